// The CVM metadata service look-alike: plain HTTP/1.1 on 127.0.0.1 (no TLS,
// like the service's link-local http://metadata.tencentyun.com), keep-alive,
// small bounded requests, timeouts. The answers come from the gateway
// (sts.cpp decides, the request log records).
#include "emulator_impl.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <vector>

namespace cbs::emu::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// A metadata GET is a request line and a few headers: anything bigger is not one.
constexpr std::size_t header_limit = std::size_t{8} * 1024;
constexpr std::size_t body_limit = 1024;
constexpr std::chrono::seconds max_idle{30};
constexpr std::chrono::seconds write_timeout{10};

}  // namespace

struct metadata_connection {
    explicit metadata_connection(tcp::socket s) : stream(std::move(s)) {}
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    bool closed = false;

    // On the connection's strand: ends every pending operation.
    void abort() {
        closed = true;
        error_code ec;
        stream.socket().close(ec);
    }
};

namespace {

http::response<http::string_body> make_response(emulator::impl& st, unsigned version, http::status status,
                                                std::string_view content_type, std::string body, bool keep_alive) {
    http::response<http::string_body> res{status, version};
    res.set(http::field::server, "cbs-emulator-metadata");
    res.set(http::field::date, imf_fixdate(st.gw->unix_now()));
    res.set(http::field::content_type, content_type);
    res.keep_alive(keep_alive);
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

asio::awaitable<void> metadata_session(std::shared_ptr<emulator::impl> st, std::shared_ptr<metadata_connection> c,
                                       std::uint64_t id) {
    struct unregister {
        emulator::impl& st;
        std::uint64_t id;
        ~unregister() {
            std::lock_guard lock(st.mu);
            st.metadata_connections.erase(id);
        }
    } guard{*st, id};

    const auto idle = std::min<std::chrono::milliseconds>(st->params.idle_timeout, max_idle);
    while (!c->closed) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(header_limit);
        parser.body_limit(body_limit);
        c->stream.expires_after(idle);
        auto [ec, n] = co_await http::async_read(c->stream, c->buffer, parser, use_tuple);
        (void)n;
        if (ec == http::error::header_limit || ec == http::error::body_limit) {
            // Too big for a metadata request: say so and hang up.
            auto res =
                make_response(*st, 11, http::status::payload_too_large, "text/plain", "Request Too Large\n", false);
            c->stream.expires_after(write_timeout);
            (void)co_await http::async_write(c->stream, res, use_tuple);
            break;
        }
        if (ec) break;
        const auto& msg = parser.get();
        const metadata_answer a = st->gw->handle_metadata(msg.method_string(), msg.target());
        const bool keep_alive = msg.keep_alive();
        auto res =
            make_response(*st, msg.version(), static_cast<http::status>(a.status), a.content_type, a.body, keep_alive);
        c->stream.expires_after(write_timeout);
        auto [wec, wn] = co_await http::async_write(c->stream, res, use_tuple);
        (void)wn;
        if (wec || !keep_alive) break;
    }
    if (!c->closed) {
        error_code ec;
        c->stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    }
    c->abort();
}

asio::awaitable<void> metadata_accept_loop(std::shared_ptr<emulator::impl> st) {
    // Same back-off as the HTTPS acceptor (server.cpp) when accept fails at
    // once (out of descriptors): wait instead of spinning.
    std::chrono::milliseconds wait{0};
    for (;;) {
        auto [ec, socket] = co_await st->metadata_acceptor.async_accept(asio::make_strand(st->executor), use_tuple);
        {
            std::lock_guard lock(st->mu);
            if (st->stopped) co_return;
            if (ec && ec != asio::error::operation_aborted) ++st->accept_failures;
        }
        if (ec) {
            if (ec == asio::error::operation_aborted || !st->metadata_acceptor.is_open()) co_return;
            if (ec == asio::error::connection_aborted) continue;
            wait =
                wait.count() == 0 ? st->params.accept_backoff_min : std::min(wait * 2, st->params.accept_backoff_max);
            st->metadata_accept_timer.expires_after(wait);
            (void)co_await st->metadata_accept_timer.async_wait(use_tuple);
            continue;
        }
        wait = std::chrono::milliseconds(0);
        error_code oec;
        socket.set_option(tcp::no_delay(true), oec);
        auto c = std::make_shared<metadata_connection>(std::move(socket));
        std::uint64_t id = 0;
        {
            std::lock_guard lock(st->mu);
            if (st->stopped) co_return;
            id = st->next_connection++;
            st->metadata_connections.emplace(id, c);
        }
        auto ex = c->stream.get_executor();
        asio::co_spawn(ex, metadata_session(st, c, id), asio::detached);
    }
}

}  // namespace

void start_metadata_server(const std::shared_ptr<emulator::impl>& st) {
    const tcp::endpoint ep(asio::ip::address_v4::loopback(), st->params.metadata_port);
    st->metadata_acceptor.open(ep.protocol());
    st->metadata_acceptor.set_option(tcp::acceptor::reuse_address(true));
    st->metadata_acceptor.bind(ep);
    st->metadata_acceptor.listen(asio::socket_base::max_listen_connections);
    {
        std::lock_guard lock(st->mu);
        st->metadata_port = st->metadata_acceptor.local_endpoint().port();
    }
    asio::co_spawn(st->metadata_strand, metadata_accept_loop(st), asio::detached);
}

void stop_metadata_server(const std::shared_ptr<emulator::impl>& st) {
    std::vector<std::shared_ptr<metadata_connection>> live;
    {
        std::lock_guard lock(st->mu);
        for (auto& [id, w] : st->metadata_connections)
            if (auto c = w.lock()) live.push_back(std::move(c));
    }
    asio::dispatch(st->metadata_strand, [st] {
        error_code ec;
        st->metadata_acceptor.close(ec);
        st->metadata_accept_timer.cancel();
    });
    for (auto& c : live) {
        auto ex = c->stream.get_executor();
        asio::dispatch(ex, [c] { c->abort(); });
    }
}

}  // namespace cbs::emu::detail
