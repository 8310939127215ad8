// One keep-alive HTTPS connection: resolve + connect + TLS handshake, then
// request/response exchanges. Internal; owned by the connection pool.
// Heavy header (Asio SSL, Beast): include only from .cpp files.
#pragma once

#include <cbs/detail/bounded_resolve.hpp>
#include <cbs/endpoint.hpp>
#include <cbs/error.hpp>
#include <cbs/pool_params.hpp>
#include <cbs/proxy.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace cbs::detail {

/// Outcome of one request/response exchange.
struct exchange_result {
    error_code ec;
    bool written = false;             ///< some request bytes reached the socket
    bool got_response_bytes = false;  ///< some response bytes arrived
    bool reusable = false;            ///< keep-alive: the connection may serve another request
    unsigned status = 0;              ///< HTTP status (0 if none; 101 with ec = bad_response)
    std::string body;                 ///< response body
    std::string content_type;
    std::string date;  ///< the Date header (the server's clock: clock-skew correction)
};

class http_connection {
public:
    http_connection(boost::asio::any_io_executor ex, boost::asio::ssl::context& tls);
    ~http_connection();
    http_connection(const http_connection&) = delete;
    http_connection& operator=(const http_connection&) = delete;

    /// Resolves, connects and performs the TLS handshake (SNI and host-name
    /// verification against `ep.host`), each phase with its own timeout from
    /// `params`. Errors: the phase's timeout code (client_errc::*_timeout,
    /// resolve_timeout on time even if the lookup itself stalls),
    /// client_errc::cancelled (cancelled while resolving), Asio/SSL codes;
    /// `diag.client_message` names the phase and the address (and, for a
    /// refused certificate, the verification result, e.g. "hostname mismatch").
    ///
    /// With `proxy` (kept valid until this completes): resolves and connects
    /// to the proxy instead, opens a CONNECT tunnel to `ep` (the answer
    /// within params.connect_timeout: else client_errc::connect_timeout), then
    /// the same TLS handshake with `ep.host` inside the tunnel. Further
    /// errors: client_errc::proxy_rejected, proxy_failed (see
    /// detail/proxy_connect.hpp). Messages name the proxy as host:port.
    boost::asio::awaitable<error_code> async_connect(const endpoint& ep, const pool_params& params, diagnostics& diag,
                                                     const proxy_url* proxy = nullptr);

    /// Writes `request` (a whole HTTP/1.1 request, as built by the client)
    /// and reads one response, the whole exchange bounded by `timeout`, the
    /// body by `body_limit`. `request` must stay valid until this completes.
    /// Never throws. The outcome is last_exchange().
    boost::asio::awaitable<void> async_exchange(std::string_view request, std::chrono::milliseconds timeout,
                                                std::size_t body_limit);

    /// The outcome of the last async_exchange. The connection's own, reused
    /// by the next exchange (its strings keep their storage: no allocation
    /// per exchange for the body, Content-Type and Date): read it before the
    /// connection goes back to the pool.
    const exchange_result& last_exchange() const noexcept { return result_; }

    /// True if the peer closed (or sent anything) while the connection sat
    /// idle; checked without blocking before reuse, so a request is not
    /// written into a connection the server already closed.
    bool peer_closed_while_idle();

    /// Closes the socket at once (no TLS close_notify round trip).
    void close() noexcept;

    /// The blocking lookup async_connect runs (on a background thread, see
    /// bounded_resolve.hpp). Default system_resolve; tests stall it.
    void set_resolve_function(resolve_function fn) noexcept { resolve_ = fn; }

private:
    /// What the deadline handler may touch: shared with it, so a handler
    /// still queued after the connection is gone finds `socket` null.
    struct watch {
        boost::asio::ip::tcp::socket* socket = nullptr;
        std::uint64_t generation = 0;  // bumped by arm() and disarm(): stale handlers do nothing
        bool timed_out = false;
    };

    /// Starts the deadline of the operation about to run: if it passes before
    /// disarm(), the socket is closed, failing whatever is pending.
    void arm(std::chrono::steady_clock::duration d);
    /// Stops the deadline; true if it had passed (the operation's error is
    /// then the timeout, whatever the socket reported).
    bool disarm();
    /// On a TCP connection to `proxy`: CONNECT `target`, read the answer
    /// (bounded by params.connect_timeout and proxy_handshake's size limit).
    /// In src/net/proxy_tunnel.cpp.
    boost::asio::awaitable<error_code> async_open_tunnel(const proxy_url& proxy, const endpoint& target,
                                                         const pool_params& params, diagnostics& diag);

    boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream_;
    boost::asio::steady_timer timer_;
    std::shared_ptr<watch> watch_;
    boost::beast::flat_buffer read_buffer_;  // reused by every exchange
    exchange_result result_;                 // likewise (last_exchange())
    resolve_function resolve_ = &system_resolve;
};

}  // namespace cbs::detail
