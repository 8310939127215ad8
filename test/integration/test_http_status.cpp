// Non-200 HTTP answers come from something in front of the API. Each class
// is handled as what it means: 429 is a throttle (retried, even for a create,
// and the limiter slows), other 4xx are refusals (not retried), 5xx are
// gateway faults (reads retried, a written create is outcome unknown).
#include "support/client_params.hpp"
#include "support/run_to_end.hpp"
#include "support/scripted_server.hpp"

#include <cbs/client.hpp>

#include <boost/asio/io_context.hpp>

#include <doctest/doctest.h>

namespace asio = boost::asio;
namespace t = cbs::test;
using namespace std::chrono_literals;
using cbs::client_errc;

namespace {

std::string status_page(int status, std::string_view reason) {
    const std::string body = "<html><body>" + std::to_string(status) + " " + std::string(reason) + "</body></html>";
    return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
           "\r\nContent-Type: text/html\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

/// Answers `first` to the first `n` requests, then API successes.
auto first_then_ok(std::string first, int n) {
    auto count = std::make_shared<int>(0);
    return [first = std::move(first), n, count](const t::recorded_request&) {
        if ((*count)++ < n) return first;
        return t::http_ok_json(t::api_success_body("req-" + std::to_string(*count)));
    };
}

cbs::create_snapshot_group_request create_req() {
    cbs::create_snapshot_group_request r;
    r.disk_ids = {"disk-11112222"};
    r.snapshot_group_name = "fleet-ins-11112222-run1";
    return r;
}

template <class F>
void run(asio::io_context& io, t::scripted_server& server, F body) {
    t::run_to_end(
        io, [&] { server.stop(); }, std::move(body));
}

}  // namespace

TEST_CASE("http status: 403 is a refusal: one attempt, not retried, the message names 403") {
    for (bool create : {true, false}) {
        CAPTURE(create);
        asio::io_context io;
        t::scripted_server server(io.get_executor());
        server.set_default_script({t::serve(first_then_ok(status_page(403, "Forbidden"), 100))});
        cbs::client c(io.get_executor(), t::fast_client_params(server));
        run(io, server, [&]() -> asio::awaitable<void> {
            // (No co_await inside ?: : GCC 12 evaluates both branches' awaits.)
            cbs::error_code ec;
            if (create)
                ec = (co_await c.async_create_snapshot_group(create_req(), cbs::as_result)).ec;
            else
                ec = (co_await c.async_call("DescribeDisks", {}, cbs::as_result)).ec;
            CHECK(ec == client_errc::http_rejected);
            auto diag = (co_await c.async_call("DescribeDisks", {}, cbs::as_result)).diag;
            CHECK(diag.attempts == 1);
            CHECK(diag.client_message.find("HTTP 403") != std::string::npos);
        });
        CHECK(server.requests().size() == 2);  // one per call: nothing was retried
    }
}

TEST_CASE("http status: 429 is a throttle: a create is sent again and succeeds; the limiter is told") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.set_default_script({t::serve(first_then_ok(status_page(429, "Too Many Requests"), 2))});
    auto p = t::fast_client_params(server);
    std::vector<cbs::error_class> retried;
    p.on_retry = [&](std::string_view, cbs::error_class cls, std::chrono::nanoseconds, unsigned) {
        retried.push_back(cls);
    };
    cbs::client c(io.get_executor(), p);
    run(io, server, [&]() -> asio::awaitable<void> {
        auto r = co_await c.async_create_snapshot_group(create_req(), cbs::as_result);
        CHECK_FALSE(r.ec);
        CHECK(r.diag.attempts == 3);
    });
    CHECK(server.requests().size() == 3);
    CHECK(retried == std::vector{cbs::error_class::throttle, cbs::error_class::throttle});
    CHECK(c.stats().throttled == 2);  // counted where the action's limiter is slowed
    CHECK(c.stats().outcome_unknown == 0);
}

TEST_CASE("http status: 503 on a written create is outcome unknown; on a read it is retried") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.set_default_script({t::serve(first_then_ok(status_page(503, "Service Unavailable"), 2))});
    cbs::client c(io.get_executor(), t::fast_client_params(server));
    run(io, server, [&]() -> asio::awaitable<void> {
        auto create = co_await c.async_create_snapshot_group(create_req(), cbs::as_result);
        CHECK(create.ec == client_errc::outcome_unknown);
        CHECK(create.diag.attempts == 1);
        CHECK(create.diag.client_message.find("HTTP 503") != std::string::npos);
        auto read = co_await c.async_call("DescribeDisks", {}, cbs::as_result);  // 503 once more, then 200
        CHECK_FALSE(read.ec);
        CHECK(read.diag.attempts == 2);
    });
    CHECK(server.requests().size() == 3);
}

TEST_CASE("http status: a redirect is not followed and not retried") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.set_default_script({t::serve(
        first_then_ok("HTTP/1.1 302 Found\r\nLocation: https://example.invalid/\r\nContent-Length: 0\r\n\r\n", 100))});
    cbs::client c(io.get_executor(), t::fast_client_params(server));
    run(io, server, [&]() -> asio::awaitable<void> {
        auto r = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
        CHECK(r.ec == client_errc::http_rejected);
        CHECK(r.diag.attempts == 1);
        CHECK(r.diag.client_message.find("HTTP 302") != std::string::npos);
    });
}
