// The CONNECT handshake with an HTTP proxy, sans-io: the request to send and
// the reading of the proxy's answer, fed with whatever bytes arrive. The
// socket work (connect, write, read with a deadline) is http_connection's
// (src/net/proxy_tunnel.cpp). Internal.
//
//   proxy_handshake hs(proxy, api_endpoint);
//   write(hs.request());
//   while (hs.state() == proxy_handshake::need_more)
//       n = read_some(buf) -> n ? hs.on_received({buf, n}) : hs.on_closed();
//   hs.state() == open ? TLS inside the tunnel : fail with hs.error(), hs.message()
#pragma once

#include <cbs/endpoint.hpp>
#include <cbs/error.hpp>
#include <cbs/proxy.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace cbs::detail {

/// "host:port" for a CONNECT request line and its Host header: the port is
/// always written, an IPv6 host in brackets.
std::string connect_authority(const endpoint& target);

/// The whole CONNECT request (request line, Host, Proxy-Authorization:
/// Basic base64(user:password) when the proxy URL has credentials, the blank
/// line). Contains the password (encoded): never log it.
std::string build_connect_request(const proxy_url& proxy, const endpoint& target);

/// Standard base64 with padding (RFC 4648 §4).
std::string base64_encode(std::string_view in);

class proxy_handshake {
public:
    enum state_t {
        need_more,  ///< the answer's header is not complete yet: read more
        open,       ///< a 2xx: the tunnel is open; TLS starts now
        failed,     ///< see error() and message()
    };

    /// The largest answer header read (status line and fields). Default 16 KiB.
    static constexpr std::size_t default_max_header = std::size_t{16} * 1024;

    proxy_handshake(const proxy_url& proxy, const endpoint& target, std::size_t max_header = default_max_header);

    /// What to write to the proxy (contains the credentials: do not log).
    const std::string& request() const noexcept { return request_; }

    /// Feeds bytes read from the proxy. Interim 1xx answers are skipped. For
    /// a final answer the decision is:
    ///  * 2xx: open. Bytes after its header are refused (failed,
    ///    proxy_failed): the API's TLS server speaks only after our
    ///    ClientHello, so they cannot be TLS and would corrupt the handshake;
    ///  * 407, 401 (tinyproxy's answer to wrong credentials): failed,
    ///    client_errc::proxy_rejected, saying whether credentials were sent
    ///    and which scheme the proxy asks for (only Basic is supported);
    ///  * another 4xx, a 3xx (not followed), 101: failed, proxy_rejected;
    ///  * 5xx (the proxy could not reach the API host: 502, 503, 504, or
    ///    tinyproxy's "500 Unable to connect"): failed, proxy_failed;
    ///  * not an HTTP/1.x status line, a header over the limit: failed,
    ///    proxy_failed.
    /// Only while need_more.
    state_t on_received(std::string_view bytes);

    /// The proxy closed the connection (or reset it) before a whole answer
    /// header: failed, proxy_failed. Only while need_more.
    state_t on_closed();

    state_t state() const noexcept { return state_; }
    /// The final status (0 before one).
    unsigned status() const noexcept { return status_; }
    /// client_errc::proxy_rejected or proxy_failed once failed; {} otherwise.
    error_code error() const noexcept { return error_; }
    /// For diagnostics::client_message: names the proxy (host:port), the API
    /// host:port asked for, and the status with its reason phrase. Never
    /// contains the password.
    const std::string& message() const noexcept { return message_; }

private:
    state_t fail(client_errc e, std::string what);
    /// Parses one whole header at the front of buffer_ (`size` bytes, the
    /// blank line included); returns the new state.
    state_t on_header(std::size_t size);

    std::string request_;
    std::string proxy_name_;   // host:port of the proxy
    std::string target_name_;  // host:port asked for
    bool sent_credentials_ = false;
    std::size_t max_header_;
    std::string buffer_;
    state_t state_ = need_more;
    unsigned status_ = 0;
    error_code error_;
    std::string message_;
};

}  // namespace cbs::detail
