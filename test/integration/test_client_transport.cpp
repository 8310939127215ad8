// The client over real TLS against a scripted server on 127.0.0.1: keep-alive
// reuse, stale connections, stalls, truncation, gateway errors, TLS refusals.
// Client and server share one single-threaded io_context; no wall-clock sleeps
// except the short timeouts under test.
#include "support/pki.hpp"
#include "support/run_to_end.hpp"
#include "support/scripted_server.hpp"

#include <cbs/client.hpp>
#include <cbs/tc3_signer.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include <doctest/doctest.h>

#include <optional>
#include <vector>

#include <sys/socket.h>

namespace asio = boost::asio;
namespace t = cbs::test;
using namespace std::chrono_literals;
using cbs::client_errc;

namespace {

cbs::client_params params_for(const t::scripted_server& server, const t::pki& trust = t::default_pki()) {
    cbs::client_params p;
    p.endpoint = server.endpoint();
    p.creds = {"AKIDTESTCLIENT", "test-secret-key-never-printed", "", "explicit"};
    p.pool.ca_file = trust.write_ca_file();
    p.pool.max_size = 4;
    p.request_timeout = 2s;
    p.pool.handshake_timeout = 1s;
    // These tests look at single attempts; retries and pacing have their own
    // tests (test_client_retry.cpp).
    p.retry.throttle_max_attempts = p.retry.transient_max_attempts = p.retry.network_max_attempts =
        p.retry.busy_max_attempts = 1;
    p.rate_limit = false;
    return p;
}

// (Requests are built outside co_await expressions: GCC 12 miscompiles
// braced initializer lists inside them, "array used as initializer".)
cbs::create_snapshot_group_request one_disk() {
    cbs::create_snapshot_group_request r;
    r.disk_ids = {"disk-11112222"};
    return r;
}

cbs::create_snapshot_group_request bad_ids() {
    cbs::create_snapshot_group_request r;
    r.disk_ids = {"disk-1", "disk-11112222"};
    return r;
}

std::string ok(std::string_view extra = R"("SnapshotGroupId":"csnap-test0001")") {
    return t::http_ok_json(t::api_success_body("req-ok", extra));
}

/// Runs `body` to completion on `io`, then requires that the io_context ran
/// out of work (nothing leaked: no pending timer, socket op or coroutine).
template <class F>
void run(asio::io_context& io, t::scripted_server& server, F body) {
    t::run_to_end(
        io, [&] { server.stop(); }, std::move(body), std::chrono::seconds(20));
}

/// The request as the server saw it verifies with the client's key.
void check_signed(const t::recorded_request& r, std::string_view secret) {
    cbs::tc3_signer signer;
    cbs::tc3_request sr;
    sr.secret_id = "AKIDTESTCLIENT";
    sr.secret_key = secret;
    auto host = r.header("Host");
    auto ct = r.header("Content-Type");
    sr.host = host;
    sr.content_type = ct;
    sr.payload = r.body;
    sr.timestamp = std::stoll(r.header("X-TC-Timestamp"));
    CHECK(signer.authorization(sr) == r.header("Authorization"));
}

}  // namespace

TEST_CASE("client: keep-alive connection is reused across calls; requests are signed") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.add_connection({t::serve([](const t::recorded_request&) { return ok(); })});
    cbs::client c(io.get_executor(), params_for(server));
    run(io, server, [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 3; ++i) {
            cbs::create_snapshot_group_request req;
            req.disk_ids = {"disk-11112222", "disk-33334444"};
            req.snapshot_group_name = "g" + std::to_string(i);
            auto rsp = co_await c.async_create_snapshot_group(req);
            CHECK(rsp.snapshot_group_id == "csnap-test0001");
            CHECK(rsp.request_id == "req-ok");
        }
    });
    CHECK(server.connections_accepted() == 1);
    REQUIRE(server.requests().size() == 3);
    auto s = c.stats();
    CHECK(s.connections_opened == 1);
    CHECK(s.connection_reuses == 2);
    const auto& r = server.requests()[0];
    CHECK(r.method == "POST");
    CHECK(r.target == "/");
    CHECK(r.header("X-TC-Action") == "CreateSnapshotGroup");
    CHECK(r.header("X-TC-Version") == "2017-03-12");
    CHECK(r.header("X-TC-Region") == "ap-guangzhou");
    CHECK(r.header("Host") == "localhost:" + std::to_string(server.port()));
    CHECK_FALSE(r.has_header("X-TC-Token"));
    CHECK(boost::json::parse(r.body).at("DiskIds").as_array().size() == 2);
    for (const auto& req : server.requests()) check_signed(req, "test-secret-key-never-printed");
}

TEST_CASE("client: temporary credentials send X-TC-Token, unsigned") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.add_connection({t::serve([](const t::recorded_request&) { return ok(); })});
    auto p = params_for(server);
    p.creds.token = "session-token-123";
    cbs::client c(io.get_executor(), p);
    run(io, server, [&]() -> asio::awaitable<void> {
        boost::json::object body{{"Limit", 1}};
        co_await c.async_call("DescribeDisks", body);
    });
    REQUIRE(server.requests().size() == 1);
    CHECK(server.requests()[0].header("X-TC-Token") == "session-token-123");
    CHECK(server.requests()[0].header("Authorization").find("SignedHeaders=content-type;host,") != std::string::npos);
    check_signed(server.requests()[0], "test-secret-key-never-printed");
}

TEST_CASE("client: a server that closed the idle connection costs a new connection, not an error") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    // Answers with keep-alive, then closes the idle connection a little later
    // (as servers do at their keep-alive timeout): the next call finds it closed.
    // (A close_notify that arrives glued to the response is read into the TLS
    // engine's buffer with it and cannot be seen while idle; that case is the
    // stale-connection retry below.)
    server.add_connection({t::expect_request(), t::reply(ok()), t::stall(100ms), t::close_connection()});
    server.add_connection({t::serve([](const t::recorded_request&) { return ok(); })});
    cbs::client c(io.get_executor(), params_for(server));
    run(io, server, [&]() -> asio::awaitable<void> {
        co_await c.async_call("DescribeDisks", {});
        // Let the server's close reach us while the connection is idle.
        asio::steady_timer pause(co_await asio::this_coro::executor, 250ms);
        co_await pause.async_wait(asio::use_awaitable);
        auto r = co_await c.async_create_snapshot_group(one_disk(), cbs::as_result);
        CHECK_FALSE(r.ec);
    });
    CHECK(server.connections_accepted() == 2);
    CHECK(server.requests().size() == 2);  // the create was sent exactly once
    CHECK(c.stats().stale_retries == 0);   // caught before writing, by the idle check
}

TEST_CASE("client: reused connection dropped after the request: idempotent call retried once on a fresh one") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.add_connection({t::expect_request(), t::reply(ok()), t::expect_request(), t::reset_connection()});
    server.add_connection({t::serve([](const t::recorded_request&) { return ok(); })});
    cbs::client c(io.get_executor(), params_for(server));
    run(io, server, [&]() -> asio::awaitable<void> {
        co_await c.async_call("DescribeDisks", {});
        auto r = co_await c.async_call("DescribeSnapshotGroups", {}, cbs::as_result);
        CHECK_FALSE(r.ec);
    });
    CHECK(server.connections_accepted() == 2);
    CHECK(server.requests().size() == 3);
    CHECK(c.stats().stale_retries == 1);
}

TEST_CASE("client: reused connection dropped after a create was written: outcome unknown, never re-sent") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.add_connection({t::expect_request(), t::reply(ok()), t::expect_request(), t::reset_connection()});
    server.set_default_script({t::serve([](const t::recorded_request&) { return ok(); })});
    cbs::client c(io.get_executor(), params_for(server));
    run(io, server, [&]() -> asio::awaitable<void> {
        co_await c.async_call("DescribeDisks", {});
        auto r = co_await c.async_create_snapshot_group(one_disk(), cbs::as_result);
        CHECK(r.ec == client_errc::outcome_unknown);
        CHECK(r.diag.client_message.find("may have been carried out") != std::string::npos);
        CHECK(c.stats().outcome_unknown == 1);
        CHECK(r.diag.attempts == 1);
    });
    CHECK(server.requests().size() == 2);
    CHECK(server.connections_accepted() == 1);
}

TEST_CASE("client: a stalled server hits the request timeout") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.add_connection({t::expect_request(), t::stall()});
    auto p = params_for(server);
    p.request_timeout = 200ms;
    cbs::client c(io.get_executor(), p);
    run(io, server, [&]() -> asio::awaitable<void> {
        auto r = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
        CHECK(r.ec == client_errc::request_timeout);
        CHECK(r.diag.client_message.find("DescribeDisks") != std::string::npos);
    });
    CHECK(c.stats().open_connections == 0);  // a timed-out connection is discarded
}

TEST_CASE("client: a truncated response is a closed connection, and the connection is discarded") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.add_connection({t::expect_request(),
                           t::reply("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                                    "{\"Response\":"),
                           t::close_connection()});
    server.add_connection({t::serve([](const t::recorded_request&) { return ok(); })});
    cbs::client c(io.get_executor(), params_for(server));
    run(io, server, [&]() -> asio::awaitable<void> {
        auto r = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
        CHECK(r.ec == client_errc::connection_closed);
        auto r2 = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
        CHECK_FALSE(r2.ec);
    });
    CHECK(server.connections_accepted() == 2);
}

TEST_CASE("client: bytes after a response mean the connection is not reused") {
    // A server that sends more than one response's worth is out of step with
    // the client: the next answer on that connection could be this junk.
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.add_connection({t::expect_request(), t::reply(ok() + "HTTP/1.1 200 OK\r\n"), t::stall()});
    server.add_connection({t::serve([](const t::recorded_request&) { return ok(); })});
    cbs::client c(io.get_executor(), params_for(server));
    run(io, server, [&]() -> asio::awaitable<void> {
        auto r = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
        CHECK_FALSE(r.ec);
        auto r2 = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
        CHECK_FALSE(r2.ec);
    });
    CHECK(server.connections_accepted() == 2);
    CHECK(c.stats().stale_retries == 0);
}

TEST_CASE("client: a chunked response is read whole; Connection: close is honoured") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    const std::string body = t::api_success_body("req-chunked", R"("SnapshotGroupId":"csnap-chunked1")");
    const auto half = body.size() / 2;
    char sizes[64];
    std::snprintf(sizes, sizeof sizes, "%zx", half);
    std::string first = sizes;
    std::snprintf(sizes, sizeof sizes, "%zx", body.size() - half);
    std::string second = sizes;
    server.add_connection({t::expect_request(),
                           t::reply("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: "
                                    "chunked\r\nConnection: close\r\n\r\n" +
                                    first + "\r\n" + body.substr(0, half) + "\r\n" + second + "\r\n" +
                                    body.substr(half) + "\r\n0\r\n\r\n"),
                           t::stall()});
    server.add_connection({t::serve([](const t::recorded_request&) { return ok(); })});
    cbs::client c(io.get_executor(), params_for(server));
    run(io, server, [&]() -> asio::awaitable<void> {
        auto r = co_await c.async_create_snapshot_group(one_disk(), cbs::as_result);
        REQUIRE_FALSE(r.ec);
        CHECK(r.value.snapshot_group_id == "csnap-chunked1");
        CHECK(r.diag.request_ids.back() == "req-chunked");
        auto r2 = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
        CHECK_FALSE(r2.ec);
    });
    CHECK(server.connections_accepted() == 2);  // the first one was closed as asked
}

TEST_CASE("client: a 502 HTML page from a gateway is an http_status error, not a parse crash") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.add_connection({t::expect_request(), t::reply(t::http_502_html()), t::close_connection()});
    cbs::client c(io.get_executor(), params_for(server));
    run(io, server, [&]() -> asio::awaitable<void> {
        auto r = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
        CHECK(r.ec == client_errc::http_status);
        CHECK(r.diag.client_message.find("HTTP 502") != std::string::npos);
    });
}

TEST_CASE("client: an API error envelope throws cbs::error with Code, Message and RequestId") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.add_connection({t::serve([](const t::recorded_request&) {
        return t::http_ok_json(t::api_error_body("InvalidDiskId.NotFound", "disk-11112222 not found", "req-404"));
    })});
    cbs::client c(io.get_executor(), params_for(server));
    run(io, server, [&]() -> asio::awaitable<void> {
        try {
            co_await c.async_create_snapshot_group(one_disk());
            FAIL("expected cbs::error");
        } catch (const cbs::error& e) {
            CHECK(e.code() == cbs::api_errc::invalid_disk_id_not_found);
            CHECK(e.diag().server_code == "InvalidDiskId.NotFound");
            CHECK(e.diag().server_message == "disk-11112222 not found");
            CHECK(e.diag().request_id == "req-404");
            CHECK(std::string(e.what()).find("req-404") != std::string::npos);
        }
    });
    CHECK(c.stats().idle_connections == 1);  // an API error leaves the connection reusable
}

TEST_CASE("client: an invalid request sends nothing") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    cbs::client c(io.get_executor(), params_for(server));
    run(io, server, [&]() -> asio::awaitable<void> {
        auto r = co_await c.async_create_snapshot_group(bad_ids(), cbs::as_result);
        CHECK(r.ec == client_errc::invalid_request);
        CHECK(r.diag.attempts == 0);
        auto r2 = co_await c.async_call("Describe Disks\r\nX-Evil: 1", {}, cbs::as_result);
        CHECK(r2.ec == client_errc::invalid_request);
    });
    CHECK(server.connections_accepted() == 0);
}

TEST_CASE("client: TLS refuses an unknown CA and a certificate for another host") {
    for (const t::pki* server_certs : {&t::other_ca_pki(), &t::other_host_pki()}) {
        asio::io_context io;
        t::scripted_server server(io.get_executor(), {.tls = true, .certs = server_certs});
        server.set_default_script({t::serve([](const t::recorded_request&) { return ok(); })});
        cbs::client c(io.get_executor(), params_for(server));  // trusts default_pki() only
        run(io, server, [&]() -> asio::awaitable<void> {
            auto r = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
            CHECK(r.ec);
            CHECK(r.ec.category() != cbs::client_category());
            CHECK(r.diag.client_message.find("TLS handshake") != std::string::npos);
        });
        CHECK(server.requests().empty());
    }
}

TEST_CASE("client: a server that never completes the handshake hits the handshake timeout") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.add_connection({t::stall_handshake()});
    auto p = params_for(server);
    p.pool.handshake_timeout = 200ms;
    cbs::client c(io.get_executor(), p);
    run(io, server, [&]() -> asio::awaitable<void> {
        auto r = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
        CHECK(r.ec == client_errc::handshake_timeout);
    });
}

TEST_CASE("client: a listener whose accept queue is full hits the connect timeout") {
    // Linux drops SYNs for a listener whose accept queue is full, so the
    // client's connect neither succeeds nor fails: only the deadline ends it.
    asio::io_context io;
    asio::ip::tcp::acceptor full(io, {asio::ip::make_address("127.0.0.1"), 0});
    full.listen(0);  // backlog 0: the kernel queues one connection at most
    std::vector<asio::ip::tcp::socket> fillers;
    for (int i = 0; i < 4; ++i) {
        fillers.emplace_back(io);
        fillers.back().open(asio::ip::tcp::v4());
        fillers.back().non_blocking(true);
        // The raw call: Asio's connect() would wait for the outcome.
        const auto to = full.local_endpoint();
        (void)::connect(fillers.back().native_handle(), to.data(), to.size());  // queued, or SYN dropped
    }
    t::scripted_server server(io.get_executor());
    auto p = params_for(server);
    p.endpoint = "https://127.0.0.1:" + std::to_string(full.local_endpoint().port());
    p.pool.connect_timeout = 300ms;
    cbs::client c(io.get_executor(), p);
    run(io, server, [&]() -> asio::awaitable<void> {
        const auto t0 = std::chrono::steady_clock::now();
        auto r = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
        CHECK(r.ec == client_errc::connect_timeout);
        CHECK(r.diag.client_message.find("connecting to 127.0.0.1:") != std::string::npos);
        CHECK(std::chrono::steady_clock::now() - t0 < 5s);
    });
    CHECK(c.stats().open_connections == 0);
}

TEST_CASE("client: connection refused is reported with the address") {
    asio::io_context io;
    std::string endpoint;
    {
        t::scripted_server gone(io.get_executor());
        endpoint = gone.endpoint();
    }  // closed: nothing listens on that port now
    t::scripted_server server(io.get_executor());
    auto p = params_for(server);
    p.endpoint = endpoint;
    cbs::client c(io.get_executor(), p);
    run(io, server, [&]() -> asio::awaitable<void> {
        auto r = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
        CHECK(r.ec == asio::error::connection_refused);
        CHECK(r.diag.client_message.find("connecting to localhost:") != std::string::npos);
    });
}

TEST_CASE("client: concurrent calls share at most max_size connections (with and without the strand)") {
    for (const bool thread_safe : {true, false}) {
        CAPTURE(thread_safe);
        asio::io_context io;
        t::scripted_server server(io.get_executor());
        server.set_default_script({t::serve([](const t::recorded_request&) { return ok(); })});
        auto p = params_for(server);
        p.pool.max_size = 2;
        p.thread_safe = thread_safe;
        cbs::client c(io.get_executor(), p);
        int succeeded = 0;
        run(io, server, [&]() -> asio::awaitable<void> {
            auto ex = co_await asio::this_coro::executor;
            int finished = 0;
            for (int i = 0; i < 20; ++i)
                asio::co_spawn(
                    ex,
                    [&]() -> asio::awaitable<void> {
                        auto r = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
                        if (!r.ec) ++succeeded;
                        ++finished;
                    },
                    asio::detached);
            asio::steady_timer poll(ex);
            while (finished < 20) {
                poll.expires_after(5ms);
                co_await poll.async_wait(asio::use_awaitable);
            }
        });
        CHECK(succeeded == 20);
        CHECK(server.connections_accepted() <= 2);
        CHECK(c.stats().connections_opened <= 2);
        CHECK(c.stats().calls == 20);
    }
}

TEST_CASE("client: a call waiting for a pooled connection can be cancelled (with and without the strand)") {
    for (const bool thread_safe : {true, false}) {
        CAPTURE(thread_safe);
        using namespace asio::experimental::awaitable_operators;
        asio::io_context io;
        t::scripted_server server(io.get_executor());
        server.add_connection({t::expect_request(), t::stall(300ms), t::reply(ok())});
        auto p = params_for(server);
        p.pool.max_size = 1;
        p.thread_safe = thread_safe;
        cbs::client c(io.get_executor(), p);
        run(io, server, [&]() -> asio::awaitable<void> {
            auto ex = co_await asio::this_coro::executor;
            bool first_ok = false;
            asio::co_spawn(
                ex,
                [&]() -> asio::awaitable<void> {
                    auto r = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
                    first_ok = !r.ec;
                },
                asio::detached);
            asio::steady_timer t1(ex, 50ms);
            auto raced =
                co_await (c.async_call("DescribeDisks", {}, cbs::as_result) || t1.async_wait(asio::use_awaitable));
            CHECK(raced.index() == 1);  // the timer won; the waiting call was cancelled
            asio::steady_timer t2(ex, 400ms);
            co_await t2.async_wait(asio::use_awaitable);
            CHECK(first_ok);
        });
        CHECK(server.requests().size() == 1);
    }
}

TEST_CASE("client: a pool waiter cancelled as it is handed a slot to connect in ends cancelled, without throwing") {
    // A holds the only connection; B waits for it. A's exchange fails, so the
    // pool hands B the freed slot to connect in, and in the same turn (before
    // B resumes) B's caller cancels B. Asio's default would make B's next
    // co_await throw "Operation canceled" out of the client.
    // thread_safe = false: the order of these steps is then deterministic.
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.add_connection({t::expect_request(), t::reset_connection()});
    server.set_default_script({t::serve([](const t::recorded_request&) { return ok(); })});
    auto p = params_for(server);
    p.pool.max_size = 1;
    p.thread_safe = false;
    cbs::client c(io.get_executor(), p);
    asio::cancellation_signal cancel_b;
    std::optional<cbs::result<boost::json::object>> a, b;
    std::exception_ptr b_threw;
    run(io, server, [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        // co_spawn starts each at once (dispatch): A takes the slot, B queues.
        asio::co_spawn(ex, c.async_call("DescribeDisks", {}, cbs::as_result), [&](std::exception_ptr, auto r) {
            a = std::move(r);
            cancel_b.emit(asio::cancellation_type::terminal);  // B's wake-up is queued, not yet run
        });
        asio::co_spawn(ex, c.async_call("DescribeDisks", {}, cbs::as_result),
                       asio::bind_cancellation_slot(cancel_b.slot(), [&](std::exception_ptr e, auto r) {
                           b_threw = e;
                           b = std::move(r);
                       }));
        asio::steady_timer settle(ex, 300ms);
        co_await settle.async_wait(asio::use_awaitable);
    });
    REQUIRE(a);
    CHECK(a->ec);  // the reset
    CHECK_FALSE(b_threw);
    REQUIRE(b);
    CHECK(b->ec == client_errc::cancelled);
    CHECK(server.connections_accepted() == 1);  // B did not connect for nobody
    CHECK(c.stats().open_connections == 0);
}

TEST_CASE("client: configuration errors are named at construction") {
    asio::io_context io;
    cbs::client_params p;
    p.creds = {"AKIDX", "key", "", ""};
    p.endpoint = "http://127.0.0.1:8080";
    CHECK_THROWS_WITH_AS(cbs::client(io.get_executor(), p), doctest::Contains("not https"), cbs::error);
    p.endpoint = "https://h/path";
    CHECK_THROWS_WITH_AS(cbs::client(io.get_executor(), p), doctest::Contains("path"), cbs::error);
    p.endpoint = "https://localhost";
    p.region = "Guangzhou!";
    CHECK_THROWS_WITH_AS(cbs::client(io.get_executor(), p), doctest::Contains("region"), cbs::error);
    p.region = "ap-guangzhou";
    p.creds.secret_key.clear();
    CHECK_THROWS_WITH_AS(cbs::client(io.get_executor(), p), doctest::Contains("SecretKey"), cbs::error);
    p.creds.secret_key = "key";
    p.pool.ca_file = "/nonexistent/ca.pem";
    CHECK_THROWS_WITH_AS(cbs::client(io.get_executor(), p), doctest::Contains("/nonexistent/ca.pem"), cbs::error);
}
