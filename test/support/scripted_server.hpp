// A small scripted HTTPS (or plain HTTP) server on 127.0.0.1 for transport tests.
//
// Each accepted connection runs the next queued script: a list of steps
// (read a request, write raw bytes, stall, close, reset, ...) executed in order.
// Everything runs as coroutines on the executor passed in, so a test can drive
// client and server on ONE single-threaded io_context without any threads.
//
// Typical use:
//
//   boost::asio::io_context ioc;              // declare before the server
//   scripted_server server(ioc.get_executor());
//   server.add_connection({expect_request(), reply_json(api_success_body())});
//   co_spawn(ioc, client_code(server.endpoint()), [&](std::exception_ptr) { server.stop(); });
//   ioc.run();                                // returns once the client is done: stop()
//                                             // leaves no pending work behind
//
// TLS handshake: when options::tls is set, the server-side handshake is done
// implicitly right before the first step that needs a TLS session
// (expect_request, reply, serve, stall), or explicitly with handshake().
// close_connection()/reset_connection() issued before any handshake act on the
// raw TCP connection (the client then fails inside its own handshake), and
// stall_handshake() keeps the TCP connection open without ever handshaking.
//
// When a script runs to completion, the connection is closed gracefully (as by
// close_connection()). Add stall() at the end to keep it open instead.
#pragma once

#include "support/pki.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cbs::test {

struct recorded_request {
    std::string method, target, body;
    std::vector<std::pair<std::string, std::string>> headers;  // in arrival order, names as sent
    std::size_t connection_index = 0;                          // 0-based accepted-connection index

    /// Case-insensitive lookup of the first header with this name; "" if absent.
    std::string header(std::string_view name) const;
    /// True if a header with this name is present (even with an empty value).
    bool has_header(std::string_view name) const;
};

struct step {
    enum class kind {
        handshake,        // TLS server handshake now (no-op for plain HTTP or if already done)
        expect_request,   // read one whole HTTP/1.1 request and record it
        reply,            // write `bytes` verbatim
        close,            // graceful close (TLS close_notify attempt, then TCP close)
        reset,            // abortive close (SO_LINGER 0): the client sees RST
        stall,            // keep the socket open and do nothing for `duration` (0 = until stop())
        serve,            // loop: read request, record, write handler(request), until EOF/stop()
        stall_handshake,  // like stall, but before (and instead of) the TLS handshake
    } what = kind::close;
    std::string bytes;                                            // reply: raw bytes (status line, headers, body)
    std::chrono::milliseconds duration{0};                        // stall/stall_handshake: how long (0 = until stop())
    std::function<std::string(const recorded_request&)> handler;  // serve: raw response per request
};

step handshake();
/// Reads one whole HTTP/1.1 request (Beast parser) and records it. If the client
/// closes the connection instead, the rest of the script is skipped.
step expect_request();
step reply(std::string raw);
/// A proper HTTP/1.1 response: status line, Content-Type: application/json,
/// Content-Length and Connection: keep-alive|close.
step reply_json(std::string body, bool keep_alive = true, int status = 200);
/// Graceful close: TLS close_notify (waiting at most options::shutdown_timeout
/// for the peer's), then TCP close.
step close_connection();
/// Abortive close: SO_LINGER 0 then close, so the client sees ECONNRESET (or EOF).
step reset_connection();
step stall(std::chrono::milliseconds d = {});
/// Request/response loop until the client closes, a request carries
/// "Connection: close" (answered first), or stop() is called.
step serve(std::function<std::string(const recorded_request&)> handler);
/// Accepts TCP but never performs the TLS handshake (for client handshake
/// timeout tests). Must be the first step.
step stall_handshake(std::chrono::milliseconds d = {});

class scripted_server {
public:
    struct options {
        bool tls = true;
        const pki* certs = nullptr;                       // nullptr: default_pki(). Must outlive the server.
        std::chrono::milliseconds shutdown_timeout{200};  // close_connection(): wait for close_notify
    };

    /// Binds 127.0.0.1:0 (ephemeral port) and starts accepting on `ex`.
    explicit scripted_server(boost::asio::any_io_executor ex);
    scripted_server(boost::asio::any_io_executor ex, options opts);
    ~scripted_server();  // calls stop()

    scripted_server(const scripted_server&) = delete;
    scripted_server& operator=(const scripted_server&) = delete;

    /// Queues the script for the next accepted connection (FIFO).
    void add_connection(std::vector<step> script);
    /// Used when the queue is empty. Without one, such connections are closed right away.
    void set_default_script(std::vector<step> script);

    unsigned short port() const;
    /// "https://localhost:<port>" (or "http://..." when tls=false).
    std::string endpoint() const;
    /// "https://127.0.0.1:<port>" (or "http://..."): avoids resolving localhost to ::1 first.
    std::string endpoint_ip() const;

    /// All requests recorded so far, across connections, in arrival order.
    const std::vector<recorded_request>& requests() const;
    std::size_t connections_accepted() const;
    std::size_t handshakes_completed() const;
    /// Server-side TLS handshake failures (e.g. the client rejected our certificate).
    std::size_t handshake_failures() const;
    /// Connections still running a script.
    std::size_t live_connections() const;

    /// Closes the acceptor and every connection and cancels stalls, so pending
    /// steps end. Afterwards the server adds no work to the io_context: once the
    /// client side is finished too, io_context::run() returns. Idempotent.
    void stop();

    struct state;  // implementation detail (shared with the running coroutines)

private:
    std::shared_ptr<state> state_;
};

/// Server-side TLS context (TLS 1.2 minimum) presenting certs.server_cert_pem.
boost::asio::ssl::context make_server_ssl_context(const pki& certs);
/// Client-side TLS context (TLS 1.2 minimum, verify_peer) trusting only certs' CA.
/// Host-name verification and SNI are per stream and left to the caller.
boost::asio::ssl::context make_client_ssl_context(const pki& certs);

/// Raw "HTTP/1.1 200 OK" response with a JSON body.
std::string http_ok_json(std::string_view json_body, bool keep_alive = true);
/// Raw HTTP/1.1 response with a JSON body and the given status code.
std::string http_json(int status, std::string_view json_body, bool keep_alive = true);
/// {"Response":{<extra_fields>,"RequestId":"<request_id>"}} -- a canned
/// CreateSnapshotGroup success envelope by default. extra_fields is a raw JSON
/// member list (may be empty).
std::string api_success_body(std::string_view request_id = "6a1f3c2e-5b7d-4e8f-9a0b-1c2d3e4f5a6b",
                             std::string_view extra_fields = R"("SnapshotGroupId":"csnap-test0001")");
/// {"Response":{"Error":{"Code":..,"Message":..},"RequestId":..}} (strings JSON-escaped).
std::string api_error_body(std::string_view code, std::string_view message, std::string_view request_id);
/// Raw "HTTP/1.1 502 Bad Gateway" response with an HTML body, as a load
/// balancer would send it.
std::string http_502_html(bool keep_alive = false);

}  // namespace cbs::test
