#include "support/scripted_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

#include <openssl/ssl.h>

#include <deque>
#include <exception>
#include <map>
#include <optional>

namespace cbs::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

void append_json_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20) {
                    out += "\\u00";
                    out += hex[c >> 4];
                    out += hex[c & 0xf];
                } else {
                    out += ch;  // UTF-8 passes through unchanged
                }
        }
    }
    out += '"';
}

std::string raw_response(int status, std::string_view content_type, std::string_view body, bool keep_alive) {
    std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
    out += http::obsolete_reason(http::int_to_status(static_cast<unsigned>(status)));
    out += "\r\nContent-Type: ";
    out += content_type;
    out += "\r\nContent-Length: " + std::to_string(body.size());
    out += keep_alive ? "\r\nConnection: keep-alive" : "\r\nConnection: close";
    out += "\r\n\r\n";
    out += body;
    return out;
}

}  // namespace

// ---------------------------------------------------------------------------
// recorded_request

std::string recorded_request::header(std::string_view name) const {
    for (const auto& [n, v] : headers)
        if (iequals(n, name)) return v;
    return {};
}

bool recorded_request::has_header(std::string_view name) const {
    for (const auto& h : headers)
        if (iequals(h.first, name)) return true;
    return false;
}

// ---------------------------------------------------------------------------
// step builders

step handshake() {
    return step{step::kind::handshake, {}, {}, {}};
}
step expect_request() {
    return step{step::kind::expect_request, {}, {}, {}};
}
step reply(std::string raw) {
    return step{step::kind::reply, std::move(raw), {}, {}};
}
step reply_json(std::string body, bool keep_alive, int status) {
    return reply(http_json(status, body, keep_alive));
}
step close_connection() {
    return step{step::kind::close, {}, {}, {}};
}
step reset_connection() {
    return step{step::kind::reset, {}, {}, {}};
}
step stall(std::chrono::milliseconds d) {
    return step{step::kind::stall, {}, d, {}};
}
step serve(std::function<std::string(const recorded_request&)> handler) {
    return step{step::kind::serve, {}, {}, std::move(handler)};
}
step stall_handshake(std::chrono::milliseconds d) {
    return step{step::kind::stall_handshake, {}, d, {}};
}

// ---------------------------------------------------------------------------
// server state and connections

namespace {

struct connection {
    connection(tcp::socket socket, ssl::context& ctx, std::size_t idx)
        : stream(beast::tcp_stream(std::move(socket)), ctx), timer(stream.get_executor()), index(idx) {}

    // Always an ssl::stream: in plain-HTTP mode only next_layer() is used.
    ssl::stream<beast::tcp_stream> stream;
    asio::steady_timer timer;   // stalls
    beast::flat_buffer buffer;  // survives across requests: holds pipelined bytes
    std::size_t index;
    bool handshaken = false;
    bool closed = false;

    // Closes the socket and cancels the stall timer: every pending operation
    // completes (with an error) soon, which ends the connection's coroutine.
    void abort() noexcept {
        closed = true;
        timer.cancel();
        stream.next_layer().close();
    }
};

}  // namespace

struct scripted_server::state {
    state(asio::any_io_executor ex, options o)
        : executor(std::move(ex)),
          opts(o),
          ssl_ctx(make_server_ssl_context(opts.certs ? *opts.certs : default_pki())),
          acceptor(executor) {}

    asio::any_io_executor executor;
    options opts;
    ssl::context ssl_ctx;
    tcp::acceptor acceptor;
    unsigned short port = 0;

    std::deque<std::vector<step>> scripts;
    std::optional<std::vector<step>> default_script;
    std::vector<recorded_request> requests;
    std::size_t accepted = 0;
    std::size_t handshakes_ok = 0;
    std::size_t handshakes_failed = 0;
    bool stopped = false;

    // Weak: each connection is owned by its coroutine, so an ended connection
    // frees itself; stop() only needs to reach the ones still running.
    std::map<std::size_t, std::weak_ptr<connection>> live;
};

namespace {

using state = scripted_server::state;

asio::awaitable<bool> ensure_handshake(state& st, connection& c) {
    if (!st.opts.tls || c.handshaken) co_return true;
    auto [ec] = co_await c.stream.async_handshake(ssl::stream_base::server, use_tuple);
    if (ec) {
        if (!st.stopped) ++st.handshakes_failed;
        co_return false;
    }
    c.handshaken = true;
    ++st.handshakes_ok;
    co_return true;
}

template <class Stream>
asio::awaitable<bool> read_request_on(Stream& s, state& st, connection& c, recorded_request& out, bool& keep_alive) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    auto [ec, n] = co_await http::async_read(s, c.buffer, parser, use_tuple);
    (void)n;
    if (ec) co_return false;

    auto& msg = parser.get();
    out.method = std::string(msg.method_string());
    out.target = std::string(msg.target());
    out.body = std::move(msg.body());
    // basic_fields iterates in insertion order and keeps names as received.
    for (const auto& field : msg)
        out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    out.connection_index = c.index;
    keep_alive = msg.keep_alive();
    st.requests.push_back(out);
    co_return true;
}

asio::awaitable<bool> read_request(state& st, connection& c, recorded_request& out, bool& keep_alive) {
    if (st.opts.tls) co_return co_await read_request_on(c.stream, st, c, out, keep_alive);
    co_return co_await read_request_on(c.stream.next_layer(), st, c, out, keep_alive);
}

asio::awaitable<bool> write_bytes(state& st, connection& c, const std::string& bytes) {
    if (st.opts.tls) {
        auto [ec, n] = co_await asio::async_write(c.stream, asio::buffer(bytes), use_tuple);
        (void)n;
        co_return !ec;
    }
    auto [ec, n] = co_await asio::async_write(c.stream.next_layer(), asio::buffer(bytes), use_tuple);
    (void)n;
    co_return !ec;
}

asio::awaitable<bool> wait(connection& c, std::chrono::milliseconds d) {
    if (d.count() > 0)
        c.timer.expires_after(d);
    else
        c.timer.expires_at(asio::steady_timer::time_point::max());
    auto [ec] = co_await c.timer.async_wait(use_tuple);
    co_return !ec;  // cancelled only by stop()/abort()
}

asio::awaitable<void> graceful_close(state& st, connection& c) {
    auto& tcp_layer = c.stream.next_layer();
    if (st.opts.tls && c.handshaken) {
        // async_shutdown sends close_notify and then waits for the peer's,
        // which most HTTP clients never send: bound the wait. On timeout the
        // tcp_stream closes the socket itself.
        tcp_layer.expires_after(st.opts.shutdown_timeout);
        auto [ec] = co_await c.stream.async_shutdown(use_tuple);
        (void)ec;
    }
    auto& socket = tcp_layer.socket();
    if (socket.is_open()) {
        error_code ec;
        socket.shutdown(tcp::socket::shutdown_send, ec);
        // Unread bytes in the receive buffer make close() send RST instead of
        // FIN; discard whatever already arrived (never blocks: available() > 0).
        char scratch[4096];
        while (!ec && socket.available(ec) > 0 && !ec) socket.read_some(asio::buffer(scratch), ec);
    }
    c.abort();
}

void abortive_close(connection& c) {
    error_code ec;
    // SO_LINGER with a zero timeout turns close() into an immediate RST.
    c.stream.next_layer().socket().set_option(asio::socket_base::linger(true, 0), ec);
    c.abort();
}

// Runs one step; false ends the script (client gone, stop(), or close/reset).
asio::awaitable<bool> run_step(state& st, connection& c, const step& s) {
    switch (s.what) {
        case step::kind::handshake:
            co_return co_await ensure_handshake(st, c);

        case step::kind::expect_request: {
            if (!co_await ensure_handshake(st, c)) co_return false;
            recorded_request req;
            bool keep_alive = true;
            co_return co_await read_request(st, c, req, keep_alive);
        }

        case step::kind::reply:
            if (!co_await ensure_handshake(st, c)) co_return false;
            co_return co_await write_bytes(st, c, s.bytes);

        case step::kind::close:
            co_await graceful_close(st, c);
            co_return false;

        case step::kind::reset:
            abortive_close(c);
            co_return false;

        case step::kind::stall:
            if (!co_await ensure_handshake(st, c)) co_return false;
            co_return co_await wait(c, s.duration);

        case step::kind::stall_handshake:
            co_return co_await wait(c, s.duration);

        case step::kind::serve:
            if (!co_await ensure_handshake(st, c)) co_return false;
            for (;;) {
                recorded_request req;
                bool keep_alive = true;
                if (!co_await read_request(st, c, req, keep_alive)) co_return false;
                const std::string response = s.handler ? s.handler(req) : http_ok_json("{}", keep_alive);
                if (!co_await write_bytes(st, c, response)) co_return false;
                if (!keep_alive) co_return true;  // client asked to close: continue the script
                if (st.stopped || c.closed) co_return false;
            }
    }
    co_return false;
}

asio::awaitable<void> run_connection(std::shared_ptr<state> st, std::shared_ptr<connection> c,
                                     std::vector<step> script) {
    try {
        bool keep_going = true;
        for (const auto& s : script) {
            if (st->stopped || c->closed) break;
            keep_going = co_await run_step(*st, *c, s);
            if (!keep_going) break;
        }
        if (!st->stopped && !c->closed) co_await graceful_close(*st, *c);
    } catch (...) {
        // Most likely a throwing serve() handler: release the socket, then let
        // the exception escape io_context::run() so the test notices.
        c->abort();
        st->live.erase(c->index);
        throw;
    }
    c->abort();
    st->live.erase(c->index);
}

asio::awaitable<void> accept_loop(std::shared_ptr<state> st) {
    for (;;) {
        auto [ec, socket] = co_await st->acceptor.async_accept(use_tuple);
        if (st->stopped) co_return;  // socket (if any) is closed by its destructor
        if (ec) {
            if (ec == asio::error::operation_aborted || !st->acceptor.is_open()) co_return;
            continue;  // transient (e.g. ECONNABORTED): keep listening
        }
        const std::size_t index = st->accepted++;
        std::vector<step> script;
        if (!st->scripts.empty()) {
            script = std::move(st->scripts.front());
            st->scripts.pop_front();
        } else if (st->default_script) {
            script = *st->default_script;
        } else {
            error_code ignored;
            socket.close(ignored);  // no script: drop the connection right away
            continue;
        }
        auto c = std::make_shared<connection>(std::move(socket), st->ssl_ctx, index);
        st->live.emplace(index, c);
        asio::co_spawn(st->executor, run_connection(st, std::move(c), std::move(script)), [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    }
}

}  // namespace

// ---------------------------------------------------------------------------
// scripted_server

scripted_server::scripted_server(asio::any_io_executor ex) : scripted_server(std::move(ex), options{}) {}

scripted_server::scripted_server(asio::any_io_executor ex, options opts)
    : state_(std::make_shared<state>(std::move(ex), opts)) {
    const tcp::endpoint ep(asio::ip::make_address_v4("127.0.0.1"), 0);
    state_->acceptor.open(ep.protocol());
    state_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    state_->acceptor.bind(ep);
    state_->acceptor.listen();
    state_->port = state_->acceptor.local_endpoint().port();
    asio::co_spawn(state_->executor, accept_loop(state_), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
    });
}

scripted_server::~scripted_server() {
    stop();
}

void scripted_server::add_connection(std::vector<step> script) {
    state_->scripts.push_back(std::move(script));
}

void scripted_server::set_default_script(std::vector<step> script) {
    state_->default_script = std::move(script);
}

unsigned short scripted_server::port() const {
    return state_->port;
}

std::string scripted_server::endpoint() const {
    return std::string(state_->opts.tls ? "https" : "http") + "://localhost:" + std::to_string(port());
}

std::string scripted_server::endpoint_ip() const {
    return std::string(state_->opts.tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port());
}

const std::vector<recorded_request>& scripted_server::requests() const {
    return state_->requests;
}
std::size_t scripted_server::connections_accepted() const {
    return state_->accepted;
}
std::size_t scripted_server::handshakes_completed() const {
    return state_->handshakes_ok;
}
std::size_t scripted_server::handshake_failures() const {
    return state_->handshakes_failed;
}
std::size_t scripted_server::live_connections() const {
    return state_->live.size();
}

void scripted_server::stop() {
    auto& st = *state_;
    st.stopped = true;
    error_code ignored;
    st.acceptor.close(ignored);
    // Copy first: nothing completes synchronously here, but don't rely on it.
    std::vector<std::shared_ptr<connection>> running;
    for (auto& [index, weak] : st.live)
        if (auto c = weak.lock()) running.push_back(std::move(c));
    for (auto& c : running) c->abort();
}

// ---------------------------------------------------------------------------
// TLS contexts

asio::ssl::context make_server_ssl_context(const pki& certs) {
    ssl::context ctx(ssl::context::tls_server);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::single_dh_use);
    if (SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION) != 1)
        throw std::runtime_error("SSL_CTX_set_min_proto_version failed");
    ctx.use_certificate_chain(asio::buffer(certs.server_cert_pem));
    ctx.use_private_key(asio::buffer(certs.server_key_pem), ssl::context::pem);
    return ctx;
}

asio::ssl::context make_client_ssl_context(const pki& certs) {
    ssl::context ctx(ssl::context::tls_client);
    if (SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION) != 1)
        throw std::runtime_error("SSL_CTX_set_min_proto_version failed");
    ctx.add_certificate_authority(asio::buffer(certs.ca_cert_pem));
    ctx.set_verify_mode(ssl::verify_peer);
    return ctx;
}

// ---------------------------------------------------------------------------
// canned responses

std::string http_ok_json(std::string_view json_body, bool keep_alive) {
    return raw_response(200, "application/json", json_body, keep_alive);
}

std::string http_json(int status, std::string_view json_body, bool keep_alive) {
    return raw_response(status, "application/json", json_body, keep_alive);
}

std::string api_success_body(std::string_view request_id, std::string_view extra_fields) {
    std::string out = R"({"Response":{)";
    if (!extra_fields.empty()) {
        out += extra_fields;
        out += ',';
    }
    out += R"("RequestId":)";
    append_json_string(out, request_id);
    out += "}}";
    return out;
}

std::string api_error_body(std::string_view code, std::string_view message, std::string_view request_id) {
    std::string out = R"({"Response":{"Error":{"Code":)";
    append_json_string(out, code);
    out += R"(,"Message":)";
    append_json_string(out, message);
    out += R"(},"RequestId":)";
    append_json_string(out, request_id);
    out += "}}";
    return out;
}

std::string http_502_html(bool keep_alive) {
    static constexpr std::string_view body =
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>stgw</center>\r\n"
        "</body>\r\n</html>\r\n";
    return raw_response(502, "text/html", body, keep_alive);
}

}  // namespace cbs::test
