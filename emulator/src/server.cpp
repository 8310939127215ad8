// The emulator's network side: TLS acceptor and HTTP/1.1 keep-alive sessions
// (one coroutine per connection, on its own strand).
#include "emulator_impl.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <array>
#include <vector>

namespace cbs::emu::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::seconds handshake_timeout{10};
constexpr std::chrono::seconds read_timeout{60};
constexpr std::chrono::seconds write_timeout{60};
constexpr std::size_t header_limit = std::size_t{64} * 1024;

const std::string bad_gateway_html =
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>stgw</center>\r\n</body>\r\n</html>\r\n";

}  // namespace

struct connection {
    connection(tcp::socket s, ssl::context& ctx)
        : stream(beast::tcp_stream(std::move(s)), ctx), timer(stream.get_executor()) {}

    ssl::stream<beast::tcp_stream> stream;
    asio::steady_timer timer;  // injected delays
    beast::flat_buffer buffer;
    bool closed = false;

    beast::tcp_stream& raw() { return stream.next_layer(); }

    // On the connection's strand: ends every pending operation.
    void abort() {
        closed = true;
        timer.cancel();
        error_code ec;
        raw().socket().close(ec);
    }
    void reset() {
        error_code ec;
        raw().socket().set_option(asio::socket_base::linger(true, 0), ec);
        abort();
    }
};

namespace {

asio::awaitable<void> graceful_close(connection& c) {
    // Send our close_notify; don't wait long for the peer's.
    c.raw().expires_after(std::chrono::milliseconds(200));
    (void)co_await c.stream.async_shutdown(use_tuple);
    c.abort();
}

// After an oversized body: read and drop what the client is still sending
// (bounded), so closing does not reset the connection before it reads our answer.
asio::awaitable<void> drain(connection& c, std::size_t max_bytes) {
    std::array<char, std::size_t{16} * 1024> buf;
    std::size_t total = 0;
    c.raw().expires_after(std::chrono::seconds(2));
    while (total < max_bytes && !c.closed) {
        auto [ec, n] = co_await c.stream.async_read_some(asio::buffer(buf), use_tuple);
        if (ec) break;
        total += n;
    }
}

asio::awaitable<void> session(std::shared_ptr<emulator::impl> st, std::shared_ptr<connection> c, std::uint64_t id) {
    struct unregister {
        emulator::impl& st;
        std::uint64_t id;
        ~unregister() {
            std::lock_guard lock(st.mu);
            st.connections.erase(id);
        }
    } guard{*st, id};

    c->raw().expires_after(handshake_timeout);
    if (auto [ec] = co_await c->stream.async_handshake(ssl::stream_base::server, use_tuple); ec) {
        c->abort();
        co_return;
    }
    tc3_signer signer;  // per connection: holds a derived-key cache, not thread-safe
    std::vector<http_header> headers;
    const std::size_t max_body = st->params.max_body;

    while (!c->closed) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(header_limit);
        parser.body_limit(max_body);
        c->raw().expires_after(st->params.idle_timeout);
        auto [ec, n] = co_await http::async_read_header(c->stream, c->buffer, parser, use_tuple);
        bool too_large = false;
        if (ec == http::error::body_limit)
            too_large = true;
        else if (ec)
            break;
        if (!too_large) {
            c->raw().expires_after(read_timeout);
            std::tie(ec, n) = co_await http::async_read(c->stream, c->buffer, parser, use_tuple);
            if (ec == http::error::body_limit)
                too_large = true;
            else if (ec)
                break;
        }
        auto& msg = parser.get();
        headers.clear();
        for (const auto& f : msg) headers.push_back({f.name_string(), f.value()});
        incoming_request in;
        in.method = msg.method_string();
        in.target = msg.target();
        in.headers = headers;
        in.body = too_large ? std::string_view{} : std::string_view(msg.body());
        in.body_too_large = too_large;
        reply_plan plan = st->gw->handle(in, signer);
        const bool keep_alive = !too_large && !plan.close && msg.keep_alive();

        if (plan.delay.count() > 0) {
            c->timer.expires_after(plan.delay);
            co_await c->timer.async_wait(use_tuple);
            if (c->closed) break;
        }
        if (plan.what == reply_plan::kind::reset) {
            c->reset();
            break;
        }
        c->raw().expires_after(write_timeout);
        if (plan.what == reply_plan::kind::gateway_502) {
            std::string raw =
                "HTTP/1.1 502 Bad Gateway\r\nServer: stgw\r\nDate: " + imf_fixdate(st->gw->unix_now()) +
                "\r\nContent-Type: text/html\r\nContent-Length: " + std::to_string(bad_gateway_html.size()) +
                "\r\nConnection: close\r\n\r\n" + bad_gateway_html;
            auto [wec, wn] = co_await asio::async_write(c->stream, asio::buffer(raw), use_tuple);
            (void)wn;
            if (!wec) co_await graceful_close(*c);
            break;
        }
        http::response<http::string_body> res{http::status::ok, msg.version()};
        res.set(http::field::server, "cbs-emulator");
        // The emulator's clock (unix_time), so a client can measure its skew.
        res.set(http::field::date, imf_fixdate(st->gw->unix_now()));
        res.set(http::field::content_type, "application/json");
        res.keep_alive(keep_alive);
        res.body() = std::move(plan.body);
        res.prepare_payload();
        auto [wec, wn] = co_await http::async_write(c->stream, res, use_tuple);
        (void)wn;
        if (wec) break;
        if (too_large) co_await drain(*c, 4 * max_body);
        if (!keep_alive) {
            co_await graceful_close(*c);
            break;
        }
    }
    c->abort();
}

void notify(const emulator::impl& st, const std::string& what) {
    if (st.params.notice) st.params.notice(what);
}

asio::awaitable<void> accept_loop(std::shared_ptr<emulator::impl> st) {
    // Out of descriptors (EMFILE/ENFILE) or kernel memory, accept fails at
    // once for as long as the condition lasts, and the pending connection
    // stays queued: retrying at once would spin at full CPU. Wait instead,
    // 50 ms doubling to 200 ms (defaults), and say so once per episode.
    auto& backoff = st->accept_timer;
    std::chrono::milliseconds wait{0};
    std::uint64_t failures_in_episode = 0;
    for (;;) {
        auto [ec, socket] = co_await st->acceptor.async_accept(asio::make_strand(st->executor), use_tuple);
        {
            std::lock_guard lock(st->mu);
            if (st->stopped) co_return;
            if (ec && ec != asio::error::operation_aborted) ++st->accept_failures;
        }
        if (ec) {
            if (ec == asio::error::operation_aborted || !st->acceptor.is_open()) co_return;
            // The peer gave up before we accepted: nothing to wait for.
            if (ec == asio::error::connection_aborted) continue;
            if (failures_in_episode++ == 0) {
                wait = st->params.accept_backoff_min;
                notify(*st, "cbs emulator: accept failed (" + ec.message() + "); retrying every " +
                                std::to_string(st->params.accept_backoff_min.count()) + "-" +
                                std::to_string(st->params.accept_backoff_max.count()) + " ms until it clears");
            } else {
                wait = std::min(wait * 2, st->params.accept_backoff_max);
            }
            backoff.expires_after(wait);
            (void)co_await backoff.async_wait(use_tuple);
            continue;
        }
        if (failures_in_episode > 0) {
            notify(*st,
                   "cbs emulator: accepting again after " + std::to_string(failures_in_episode) + " failed accepts");
            failures_in_episode = 0;
        }
        error_code oec;
        socket.set_option(tcp::no_delay(true), oec);
        auto c = std::make_shared<connection>(std::move(socket), *st->ssl_ctx);
        std::uint64_t id = 0;
        {
            std::lock_guard lock(st->mu);
            if (st->stopped) co_return;
            id = st->next_connection++;
            st->connections.emplace(id, c);
        }
        auto ex = c->stream.get_executor();
        asio::co_spawn(ex, session(st, c, id), asio::detached);
    }
}

}  // namespace

void start_server(const std::shared_ptr<emulator::impl>& st) {
    const auto addr = asio::ip::make_address(st->params.listen_address);
    const tcp::endpoint ep(addr, st->params.port);
    st->acceptor.open(ep.protocol());
    st->acceptor.set_option(tcp::acceptor::reuse_address(true));
    if (addr.is_v6()) st->acceptor.set_option(asio::ip::v6_only(true));
    st->acceptor.bind(ep);
    st->acceptor.listen(asio::socket_base::max_listen_connections);
    {
        std::lock_guard lock(st->mu);
        st->port = st->acceptor.local_endpoint().port();
    }
    asio::co_spawn(st->acceptor_strand, accept_loop(st), asio::detached);
}

void stop_server(const std::shared_ptr<emulator::impl>& st) {
    std::vector<std::shared_ptr<connection>> live;
    {
        std::lock_guard lock(st->mu);
        st->stopped = true;
        for (auto& [id, w] : st->connections)
            if (auto c = w.lock()) live.push_back(std::move(c));
    }
    asio::dispatch(st->acceptor_strand, [st] {
        error_code ec;
        st->acceptor.close(ec);
        st->accept_timer.cancel();
    });
    for (auto& c : live) {
        auto ex = c->stream.get_executor();
        asio::dispatch(ex, [c] { c->abort(); });
    }
}

}  // namespace cbs::emu::detail
