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

/// The service's domains, as the official SDKs offer them (the signing
/// service name stays "cbs" whichever is used).
enum class endpoint_choice {
    /// `cbs.tencentcloudapi.com`: routed to the nearest region (the China
    /// site's documentation; the SDKs' default). Default.
    root,
    /// `cbs.intl.tencentcloudapi.com`: the domain on the international site's
    /// API documentation.
    international,
    /// `cbs.<region>.tencentcloudapi.com`: that region's own domain (lower
    /// latency; financial zones have only theirs, e.g.
    /// `cbs.ap-shanghai-fsi.tencentcloudapi.com`).
    regional,
};

/// The root endpoint URL, client_params::endpoint's default.
inline constexpr std::string_view default_endpoint_url = "https://cbs.tencentcloudapi.com";

/// "root", "international" or "regional".
std::string_view to_string(endpoint_choice c) noexcept;

/// The endpoint URL for `choice`: "https://cbs.tencentcloudapi.com",
/// "https://cbs.intl.tencentcloudapi.com" or
/// "https://cbs.<region>.tencentcloudapi.com" (`region` is used by regional
/// only). `service` is the host's first label (default "cbs"). Returns false
/// and sets `why` (naming it) when regional has a `region` that is not a
/// region name (lower-case letters, digits and '-', like ap-guangzhou), or
/// `service` is not a label.
bool endpoint_url_for(endpoint_choice choice, std::string_view region, std::string& url, std::string& why,
                      std::string_view service = "cbs");

}  // namespace cbs
