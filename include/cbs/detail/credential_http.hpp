// A minimal plain-HTTP GET for the metadata service: one request per
// connection, bounded by timeouts, refused unless the host is on the local
// machine or the local link. Internal (Asio include; no Beast here).
#pragma once

#include <cbs/endpoint.hpp>
#include <cbs/error.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <string>

namespace cbs::detail {

/// 127.0.0.0/8, ::1, 169.254.0.0/16, fe80::/10 (and IPv4-mapped forms).
bool is_loopback_or_link_local(const boost::asio::ip::address& a) noexcept;

struct plain_get_result {
    error_code ec;  ///< transport error, client_errc::credentials_invalid (refused address), or {}
    unsigned status = 0;
    std::string body;  ///< at most 64 KiB
};

/// GET `target` from `ep` (scheme http). Resolves within `connect_timeout`,
/// refuses (credentials_invalid) unless every resolved address is loopback
/// or link-local, connects within `connect_timeout`, then writes the request
/// and reads the answer within `request_timeout`. diag.client_message says
/// what failed and where. Never throws.
boost::asio::awaitable<plain_get_result> async_plain_http_get(const endpoint& ep, std::string target,
                                                              std::chrono::milliseconds connect_timeout,
                                                              std::chrono::milliseconds request_timeout,
                                                              diagnostics& diag);

}  // namespace cbs::detail
