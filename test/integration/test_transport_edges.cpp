// Transport edges: interim (1xx) responses, 101, garbage after an
// interim response. The client over real TLS against the scripted server;
// what reached the server (its request log, its accepted connections) is the
// measure, not the client's counters.
#include "support/pki.hpp"
#include "support/run_to_end.hpp"
#include "support/scripted_server.hpp"

#include <cbs/client.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <doctest/doctest.h>

#include <string>

namespace asio = boost::asio;
namespace t = cbs::test;
using namespace std::chrono_literals;
using cbs::client_errc;

namespace {

cbs::client_params edge_params(const t::scripted_server& server) {
    cbs::client_params p;
    p.endpoint = server.endpoint();
    p.creds = {"AKIDTESTEDGES", "test-secret-key-edges", "", "explicit"};
    p.pool.ca_file = t::default_pki().write_ca_file();
    p.pool.max_size = 4;
    p.request_timeout = 2s;
    p.pool.handshake_timeout = 1s;
    // One attempt per call: what one exchange does is under test here.
    p.retry.throttle_max_attempts = p.retry.transient_max_attempts = p.retry.network_max_attempts =
        p.retry.busy_max_attempts = 1;
    p.rate_limit = false;
    return p;
}

std::string ok(std::string_view request_id) {
    return t::http_ok_json(t::api_success_body(request_id));
}

template <class F>
void run(asio::io_context& io, t::scripted_server& server, F body) {
    t::run_to_end(
        io, [&] { server.stop(); }, std::move(body), std::chrono::seconds(20));
}

}  // namespace

TEST_CASE("transport: 1xx interim responses are skipped; the connection stays in step for the next call") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    // 100, then (after a pause, a separate read) 103 with a header and 102,
    // then the final answer in the same bytes; then a second exchange.
    server.add_connection({t::expect_request(), t::reply("HTTP/1.1 100 Continue\r\n\r\n"), t::stall(30ms),
                           t::reply("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                                    "HTTP/1.1 102 Processing\r\n\r\n" +
                                    ok("req-first")),
                           t::expect_request(), t::reply(ok("req-second")), t::stall()});
    cbs::client c(io.get_executor(), edge_params(server));
    run(io, server, [&]() -> asio::awaitable<void> {
        auto r1 = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
        REQUIRE_FALSE(r1.ec);
        CHECK(r1.diag.request_id == "req-first");
        CHECK(r1.diag.attempts == 1);
        auto r2 = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
        REQUIRE_FALSE(r2.ec);
        CHECK(r2.diag.request_id == "req-second");  // its own answer, not a leftover
    });
    CHECK(server.connections_accepted() == 1);  // reused, in step
    CHECK(server.requests().size() == 2);
}

TEST_CASE("transport: many interim responses in a row are still one exchange; an endless stream is cut off") {
    for (int count : {15, 40}) {
        CAPTURE(count);
        const bool cut_off = count > 16;
        asio::io_context io;
        t::scripted_server server(io.get_executor());
        std::string interim;
        for (int i = 0; i < count; ++i) interim += "HTTP/1.1 100 Continue\r\n\r\n";
        server.add_connection({t::expect_request(), t::reply(interim + ok("req-many")), t::expect_request(),
                               t::reply(ok("req-second")), t::stall()});
        server.add_connection({t::serve([](const t::recorded_request&) { return ok("req-fresh"); })});
        cbs::client c(io.get_executor(), edge_params(server));
        run(io, server, [&]() -> asio::awaitable<void> {
            auto r = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
            if (cut_off) {
                CHECK(r.ec == client_errc::bad_response);
            } else {
                REQUIRE_FALSE(r.ec);
                CHECK(r.diag.request_id == "req-many");
            }
            auto r2 = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
            REQUIRE_FALSE(r2.ec);
            CHECK(r2.diag.request_id == (cut_off ? "req-fresh" : "req-second"));
        });
        // In step: reused. Cut off: retired, the next call on a new connection.
        CHECK(server.connections_accepted() == (cut_off ? 2u : 1u));
    }
}

TEST_CASE("transport: garbage after an interim response retires the connection") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.add_connection(
        {t::expect_request(), t::reply("HTTP/1.1 100 Continue\r\n\r\nthis is not HTTP\r\n\r\n"), t::stall()});
    server.add_connection({t::serve([](const t::recorded_request&) { return ok("req-fresh"); })});
    cbs::client c(io.get_executor(), edge_params(server));
    run(io, server, [&]() -> asio::awaitable<void> {
        auto r = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
        CHECK(r.ec);
        CHECK(r.diag.attempts == 1);
        CHECK(c.stats().open_connections == 0);  // retired, never back in the pool
        auto r2 = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
        REQUIRE_FALSE(r2.ec);
        CHECK(r2.diag.request_id == "req-fresh");
    });
    CHECK(server.connections_accepted() == 2);
    CHECK(server.requests().size() == 2);
}

TEST_CASE("transport: an unasked-for 101 Switching Protocols is a bad answer and retires the connection") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    // After the 101, the bytes that look like an answer must not be taken
    // for one, neither by this call nor by the next.
    server.add_connection({t::expect_request(),
                           t::reply("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n" +
                                    ok("req-after-101")),
                           t::stall()});
    server.add_connection({t::serve([](const t::recorded_request&) { return ok("req-fresh"); })});
    cbs::client c(io.get_executor(), edge_params(server));
    run(io, server, [&]() -> asio::awaitable<void> {
        auto r = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
        CHECK(r.ec == client_errc::bad_response);
        CHECK(r.diag.request_id.empty());
        auto r2 = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
        REQUIRE_FALSE(r2.ec);
        CHECK(r2.diag.request_id == "req-fresh");
    });
    CHECK(server.connections_accepted() == 2);
}

TEST_CASE("transport: an interim response then a close on a reused connection is not resent as stale") {
    // The stale-connection resend is for a connection that died before any
    // answer; a 100 Continue is an answer's first bytes: a create that got one
    // may have been acted on.
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.add_connection({t::expect_request(), t::reply(ok("req-first")), t::expect_request(),
                           t::reply("HTTP/1.1 100 Continue\r\n\r\n"), t::close_connection()});
    server.add_connection({t::serve([](const t::recorded_request&) { return ok("req-fresh"); })});
    cbs::client c(io.get_executor(), edge_params(server));
    run(io, server, [&]() -> asio::awaitable<void> {
        auto r1 = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
        REQUIRE_FALSE(r1.ec);
        boost::json::object body{{"DiskIds", boost::json::array{"disk-11112222"}}};
        auto r2 = co_await c.async_call("CreateSnapshotGroup", body, cbs::as_result);
        CHECK(r2.ec == client_errc::outcome_unknown);
    });
    CHECK(server.requests().size() == 2);  // the create reached the server once
    CHECK(server.connections_accepted() == 1);
}

TEST_CASE("transport: a create answered 100 Continue then 200 succeeds in one exchange, sent once") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.add_connection({t::expect_request(), t::reply("HTTP/1.1 100 Continue\r\n\r\n"), t::stall(20ms),
                           t::reply(t::http_ok_json(t::api_success_body("req-create"))), t::stall()});
    auto p = edge_params(server);
    p.retry.transient_max_attempts = p.retry.network_max_attempts = 3;  // a retry would show in the log
    cbs::client c(io.get_executor(), p);
    run(io, server, [&]() -> asio::awaitable<void> {
        cbs::create_snapshot_group_request req;
        req.disk_ids = {"disk-11112222"};
        auto r = co_await c.async_create_snapshot_group(req, cbs::as_result);
        REQUIRE_FALSE(r.ec);
        CHECK(r.value.snapshot_group_id == "csnap-test0001");
        CHECK(r.diag.attempts == 1);
    });
    CHECK(server.requests().size() == 1);
    CHECK(server.connections_accepted() == 1);
}
