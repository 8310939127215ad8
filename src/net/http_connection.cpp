#include <cbs/detail/http_connection.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/read.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <sys/socket.h>

#include <cerrno>

namespace cbs::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

http_connection::http_connection(asio::any_io_executor ex, asio::ssl::context& tls)
    : stream_(ex, tls), timer_(ex), watch_(std::make_shared<watch>()) {
    watch_->socket = &stream_.next_layer();
}

http_connection::~http_connection() {
    // A deadline handler still queued must not reach the destroyed socket.
    watch_->socket = nullptr;
}

void http_connection::arm(std::chrono::steady_clock::duration d) {
    watch_->timed_out = false;
    const auto gen = ++watch_->generation;
    timer_.expires_after(d);
    timer_.async_wait([w = watch_, gen](const boost::system::error_code& ec) {
        // Fired, not cancelled, for this operation (not a later one), and the
        // connection still exists: close the socket, which fails the pending
        // read or write at once.
        if (ec || gen != w->generation || !w->socket) return;
        w->timed_out = true;
        boost::system::error_code ignored;
        w->socket->close(ignored);
    });
}

bool http_connection::disarm() {
    ++watch_->generation;
    timer_.cancel();
    return watch_->timed_out;
}

asio::awaitable<error_code> http_connection::async_connect(const endpoint& ep, const pool_params& params,
                                                           diagnostics& diag, const proxy_url* proxy) {
    // Through a proxy the TCP connection goes to the proxy, and the API host
    // is the proxy's to resolve (it may be the only one that can).
    const std::string api = ep.host + ":" + std::to_string(ep.port);
    const std::string& tcp_host = proxy ? proxy->host : ep.host;
    const std::uint16_t tcp_port = proxy ? proxy->port : ep.port;
    const std::string where = proxy ? "proxy " + proxy->host_port() : api;

    // 1. Resolve. The lookup runs on a thread of its own and the wait is
    // bounded by resolve_timeout (and cancellable) whatever the system
    // resolver does; a stalled lookup finishes in the background.
    std::vector<tcp::endpoint> results;
    const auto rec = co_await async_resolve_bounded(resolve_, tcp_host, tcp_port, params.resolve_timeout, results);
    if (rec == client_errc::resolve_timeout) {
        diag.client_message =
            "resolving " + where + ": no answer within " + std::to_string(params.resolve_timeout.count()) + " ms";
        co_return rec;
    }
    if (rec == client_errc::cancelled) {
        diag.client_message = "cancelled while resolving " + where;
        co_return rec;
    }
    if (rec) {
        diag.client_message = "resolving " + where + ": " + rec.message();
        co_return rec;
    }

    // 2. TCP connect (every resolved address in turn, one overall deadline).
    auto& socket = stream_.next_layer();
    arm(params.connect_timeout);
    auto [cec, connected] = co_await asio::async_connect(socket, results, tuple_awaitable);
    if (disarm()) {
        diag.client_message = "connecting to " + where;
        co_return client_errc::connect_timeout;
    }
    if (cec) {
        diag.client_message = "connecting to " + where + ": " + cec.message();
        co_return cec;
    }
    boost::system::error_code nodelay_ec;
    socket.set_option(tcp::no_delay(true), nodelay_ec);  // latency only: not worth failing over
    if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none)
        co_return client_errc::cancelled;  // connected just as the call was cancelled: no handshake

    // 2b. The tunnel: everything after it is end to end with the API host.
    if (proxy) {
        if (auto tec = co_await async_open_tunnel(*proxy, ep, params, diag)) co_return tec;
        if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none)
            co_return client_errc::cancelled;
    }
    const std::string tls_peer = proxy ? api + " through " + where : api;

    // 3. TLS: SNI (not for IP literals, RFC 6066), chain + host-name check.
    boost::system::error_code not_ip;
    asio::ip::make_address(ep.host, not_ip);
    const bool ip_literal = !not_ip;
    if (!ip_literal && !SSL_set_tlsext_host_name(stream_.native_handle(), ep.host.c_str())) {
        diag.client_message = "setting TLS SNI for " + ep.host;
        co_return error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category());
    }
    if (params.verify_peer) {
        stream_.set_verify_mode(asio::ssl::verify_peer);
        // OpenSSL's own name check (not a verify callback): a mismatch is then
        // recorded as the verify result, so the error can say "hostname
        // mismatch" rather than only "certificate verify failed".
        auto* param = SSL_get0_param(stream_.native_handle());
        const int set = ip_literal ? X509_VERIFY_PARAM_set1_ip_asc(param, ep.host.c_str())
                                   : X509_VERIFY_PARAM_set1_host(param, ep.host.c_str(), ep.host.size());
        if (set != 1) {
            diag.client_message = "setting the TLS host name check for " + ep.host;
            co_return error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category());
        }
    } else {
        stream_.set_verify_mode(asio::ssl::verify_none);
    }
    arm(params.handshake_timeout);
    auto [hec] = co_await stream_.async_handshake(asio::ssl::stream_base::client, tuple_awaitable);
    if (disarm()) {
        diag.client_message = "TLS handshake with " + tls_peer;
        co_return client_errc::handshake_timeout;
    }
    if (hec) {
        diag.client_message = "TLS handshake with " + tls_peer + ": " + hec.message();
        // Why the certificate was refused (unknown CA, expired, hostname mismatch, ...).
        const long verify = SSL_get_verify_result(stream_.native_handle());
        if (params.verify_peer && verify != X509_V_OK)
            diag.client_message += std::string(": ") + X509_verify_cert_error_string(verify);
        co_return hec;
    }
    co_return error_code{};
}

namespace {

/// Parses one response straight into an exchange_result: keeps the status,
/// Content-Type and body and drops every other field (Beast's own parser
/// would store each one). Limits and keep-alive come from basic_parser.
class response_reader final : public http::basic_parser<false> {
public:
    explicit response_reader(exchange_result& out) : out_(out) {}

private:
    void on_request_impl(http::verb, beast::string_view, beast::string_view, int, beast::error_code&) override {}
    void on_response_impl(int code, beast::string_view, int, beast::error_code&) override {
        out_.status = static_cast<unsigned>(code);
    }
    void on_field_impl(http::field name, beast::string_view, beast::string_view value, beast::error_code&) override {
        if (name == http::field::content_type) out_.content_type.assign(value.data(), value.size());
        if (name == http::field::date) out_.date.assign(value.data(), value.size());
    }
    void on_header_impl(beast::error_code&) override {}
    void on_body_init_impl(const boost::optional<std::uint64_t>& length, beast::error_code&) override {
        if (length) out_.body.reserve(static_cast<std::size_t>(*length));
    }
    std::size_t on_body_impl(beast::string_view body, beast::error_code&) override {
        out_.body.append(body.data(), body.size());
        return body.size();
    }
    void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, beast::error_code&) override {
        out_.body.append(body.data(), body.size());
        return body.size();
    }
    void on_finish_impl(beast::error_code&) override {}

    exchange_result& out_;
};

}  // namespace

asio::awaitable<void> http_connection::async_exchange(std::string_view request, std::chrono::milliseconds timeout,
                                                      std::size_t body_limit) {
    // The connection's result, cleared but keeping its strings' storage; a
    // body far larger than an ordinary answer is not kept for the next one.
    auto& r = result_;
    constexpr std::size_t keep_body = 64u << 10;
    if (r.body.capacity() > keep_body) std::string().swap(r.body);
    r.ec = {};
    r.written = r.got_response_bytes = r.reusable = false;
    r.status = 0;
    r.body.clear();
    r.content_type.clear();
    r.date.clear();
    // One deadline for the whole exchange (one timer wait, not one per read
    // and write as beast::tcp_stream would start).
    arm(timeout);

    // One contiguous buffer: asio::ssl writes one buffer per TLS record.
    auto [wec, written] = co_await asio::async_write(stream_, asio::buffer(request), tuple_awaitable);
    r.written = written > 0;
    if (wec) {
        r.ec = disarm() ? error_code(client_errc::request_timeout) : wec;
        co_return;
    }

    // The buffer is the connection's: its storage is reused from one
    // exchange to the next. Keep-alive without pipelining leaves it empty
    // after each response; anything left over means the peer misbehaved.
    read_buffer_.clear();
    // Interim (1xx) responses precede the final one on the same connection
    // and never end the exchange (RFC 9110 15.2): each is parsed whole (it has
    // no body) and dropped, and the next response is read from what follows.
    // A bound on their number keeps a peer from holding the exchange with an
    // endless stream of them before the deadline (which still applies).
    constexpr int max_interim = 16;
    bool got_bytes = false;
    for (int interim = 0;; ++interim) {
        response_reader parser(r);
        parser.body_limit(body_limit);
        auto [rec, read] = co_await http::async_read(stream_, read_buffer_, parser, tuple_awaitable);
        got_bytes = got_bytes || parser.got_some() || read_buffer_.size() > 0;
        r.got_response_bytes = got_bytes;
        if (rec) {
            const bool timed_out = disarm();
            r.status = 0;
            r.body.clear();
            r.content_type.clear();
            r.date.clear();
            if (timed_out)
                r.ec = client_errc::request_timeout;
            else if (rec == http::error::body_limit)
                r.ec = client_errc::response_too_large;
            else if (rec == http::error::end_of_stream || rec == asio::error::eof ||
                     rec == http::error::partial_message || rec == asio::ssl::error::stream_truncated ||
                     rec == asio::error::connection_reset)
                r.ec = client_errc::connection_closed;
            else
                r.ec = rec;  // unparseable: the connection is retired (not reusable)
            co_return;
        }
        if (r.status == 101) {
            // Switching Protocols was never asked for: what follows is not
            // HTTP/1.1. A bad answer (the peer did read the request, so for a
            // create the outcome is unknown), `status` kept for the message;
            // the connection is retired (not reusable).
            disarm();
            r.body.clear();
            r.ec = client_errc::bad_response;
            co_return;
        }
        if (r.status < 100 || r.status > 199) {
            disarm();
            r.reusable = parser.keep_alive() && !parser.need_eof() && read_buffer_.size() == 0;
            co_return;
        }
        if (interim + 1 >= max_interim) {
            disarm();
            r.status = 0;
            r.content_type.clear();
            r.date.clear();
            r.ec = client_errc::bad_response;
            co_return;
        }
        r.status = 0;  // an interim response: skip it, read the next one
        r.body.clear();
        r.content_type.clear();
        r.date.clear();
    }
}

bool http_connection::peer_closed_while_idle() {
    auto& socket = stream_.next_layer();
    if (!socket.is_open()) return true;
    char c;
    auto n = ::recv(socket.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return true;  // FIN: closed by the peer
    if (n > 0) return true;   // TLS close_notify or junk: not a clean idle connection
    return !(errno == EAGAIN || errno == EWOULDBLOCK);
}

void http_connection::close() noexcept {
    boost::system::error_code ignored;
    stream_.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.next_layer().close(ignored);
}

}  // namespace cbs::detail
