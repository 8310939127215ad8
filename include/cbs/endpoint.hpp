// cbs-async: where calls go.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cbs {

/// A parsed endpoint URL: `https://host[:port][/]`.
struct endpoint {
    std::string scheme = "https";  ///< "https" (or "http", refused unless allowed)
    std::string host;              ///< host name or IP literal (IPv6 without brackets)
    std::uint16_t port = 443;

    /// The Host header value: host, plus ":port" when not the scheme default.
    std::string host_header() const;
    /// Back to a URL.
    std::string url() const;
};

/// Parses an endpoint URL. Accepts `https://host`, `https://host:port`,
/// `https://[::1]:port`, with an optional trailing "/". Returns false and sets
/// `why` (naming the bad part) for anything else: another scheme, a path,
/// query, user info, an empty host, a bad port.
bool parse_endpoint(std::string_view url, endpoint& out, std::string& why);

}  // namespace cbs
