// The I/O of the CONNECT handshake: http_connection's TCP socket is connected
// to the proxy; write the request, feed the answer to detail::proxy_handshake
// (which decides), all within one deadline. TLS has not started: this talks
// to the socket under the SSL stream.
#include <cbs/detail/http_connection.hpp>
#include <cbs/detail/proxy_connect.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>

namespace cbs::detail {

namespace asio = boost::asio;

asio::awaitable<error_code> http_connection::async_open_tunnel(const proxy_url& proxy, const endpoint& target,
                                                               const pool_params& params, diagnostics& diag) {
    constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);
    proxy_handshake hs(proxy, target);
    auto& socket = stream_.next_layer();
    // One deadline for the request and the whole answer: the proxy answers
    // once it has resolved and connected to the API host itself.
    arm(params.connect_timeout);
    auto [wec, written] = co_await asio::async_write(socket, asio::buffer(hs.request()), tuple_awaitable);
    error_code io_error = wec;
    // Small reads: the header is short, and for a 2xx nothing may follow it
    // (the handshake refuses extra bytes), so no TLS byte can be swallowed.
    std::array<char, 1024> buf{};
    while (!io_error && hs.state() == proxy_handshake::need_more) {
        auto [rec, got] = co_await socket.async_read_some(asio::buffer(buf), tuple_awaitable);
        if (got > 0) hs.on_received({buf.data(), got});
        if (rec && hs.state() == proxy_handshake::need_more) io_error = rec;
    }
    const auto where = "proxy " + proxy.host_port();
    const auto asked = connect_authority(target);
    if (disarm()) {
        diag.client_message = "waiting for " + where + " to answer CONNECT " + asked + ": no answer within " +
                              std::to_string(params.connect_timeout.count()) + " ms";
        co_return client_errc::connect_timeout;
    }
    if (io_error == asio::error::operation_aborted) {
        diag.client_message = "cancelled while waiting for " + where + " to answer CONNECT " + asked;
        co_return client_errc::cancelled;
    }
    if (io_error) {
        // Closed, reset or unwritable before a whole answer: the proxy
        // dropped us (transient, like a failed connect).
        if (hs.state() == proxy_handshake::need_more) hs.on_closed();
        diag.client_message = hs.message() + " (" + io_error.message() + ")";
        co_return client_errc::proxy_failed;
    }
    if (hs.state() == proxy_handshake::failed) {
        diag.client_message = hs.message();
        co_return hs.error();
    }
    co_return error_code{};
}

}  // namespace cbs::detail
