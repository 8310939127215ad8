// The retry loop and the rate limiter in the client, over real TLS against a
// scripted server: throttles, busy disks, ambiguous failures of creates and
// reads, the retry budget, cancellation during backoff, and pacing against a
// server that enforces a strict sliding window.
#include "support/client_params.hpp"
#include "support/pki.hpp"
#include "support/run_to_end.hpp"
#include "support/scripted_server.hpp"

#include <cbs/client.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <doctest/doctest.h>

#include <deque>

namespace asio = boost::asio;
namespace t = cbs::test;
using namespace std::chrono_literals;
using cbs::client_errc;

namespace {

cbs::client_params fast_retry_params(const t::scripted_server& server) {
    auto p = t::fast_client_params(server);
    p.rate_limit = false;
    return p;
}

std::string api_ok(int n) {
    return t::http_ok_json(t::api_success_body("req-" + std::to_string(n)));
}

std::string api_err(std::string_view code, int n) {
    return t::http_ok_json(t::api_error_body(code, "scripted " + std::string(code), "req-" + std::to_string(n)));
}

/// A handler that answers the scripted codes in order ("" = success), then success.
auto answers(std::vector<std::string> codes) {
    auto n = std::make_shared<int>(0);
    return [codes = std::move(codes), n](const t::recorded_request&) {
        int i = (*n)++;
        if (i < static_cast<int>(codes.size()) && !codes[i].empty()) return api_err(codes[i], i);
        return api_ok(i);
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

TEST_CASE("retry: throttled, then success; each attempt freshly signed") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.set_default_script({t::serve(answers({"RequestLimitExceeded"}))});
    auto p = fast_retry_params(server);
    std::int64_t clock = 1700000000;
    p.unix_time = [&] { return clock++; };
    std::vector<std::string> seen;
    p.on_retry = [&](std::string_view, cbs::error_class cls, std::chrono::nanoseconds, unsigned) {
        seen.emplace_back(to_string(cls));
    };
    cbs::client c(io.get_executor(), p);
    run(io, server, [&]() -> asio::awaitable<void> {
        auto r = co_await c.async_create_snapshot_group(create_req(), cbs::as_result);
        CHECK_FALSE(r.ec);
        CHECK(r.diag.attempts == 2);
        CHECK(r.diag.request_ids == std::vector<std::string>{"req-0", "req-1"});
    });
    REQUIRE(server.requests().size() == 2);
    CHECK(server.requests()[0].header("X-TC-Timestamp") != server.requests()[1].header("X-TC-Timestamp"));
    CHECK(server.requests()[0].header("Authorization") != server.requests()[1].header("Authorization"));
    CHECK(c.stats().throttled == 1);
    CHECK(c.stats().retries == 1);
    CHECK(seen == std::vector<std::string>{"throttle"});
}

TEST_CASE("retry: a busy disk twice, then the create succeeds") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.set_default_script({t::serve(answers({"InvalidDisk.SnapshotCreating", "ResourceInUse.DiskMigrating"}))});
    cbs::client c(io.get_executor(), fast_retry_params(server));
    run(io, server, [&]() -> asio::awaitable<void> {
        auto r = co_await c.async_create_snapshot_group(create_req(), cbs::as_result);
        CHECK_FALSE(r.ec);
        CHECK(r.value.request_id == "req-2");
        CHECK(r.diag.attempts == 3);
    });
    CHECK(server.requests().size() == 3);
}

TEST_CASE("retry: a create whose connection resets after the request was written is not sent again") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.add_connection({t::expect_request(), t::reset_connection()});
    server.set_default_script({t::serve(answers({}))});
    cbs::client c(io.get_executor(), fast_retry_params(server));
    run(io, server, [&]() -> asio::awaitable<void> {
        auto r = co_await c.async_create_snapshot_group(create_req(), cbs::as_result);
        CHECK(r.ec == client_errc::outcome_unknown);
        CHECK(r.diag.attempts == 1);
        CHECK(r.diag.client_message.find("reconcile") != std::string::npos);
    });
    CHECK(server.requests().size() == 1);
    CHECK(c.stats().outcome_unknown == 1);
}

TEST_CASE("retry: a read whose connection resets after the request was written is retried") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.add_connection({t::expect_request(), t::reset_connection()});
    server.set_default_script({t::serve(answers({}))});
    cbs::client c(io.get_executor(), fast_retry_params(server));
    run(io, server, [&]() -> asio::awaitable<void> {
        auto r = co_await c.async_call("DescribeSnapshotGroups", {}, cbs::as_result);
        CHECK_FALSE(r.ec);
        CHECK(r.diag.attempts == 2);
    });
    CHECK(server.requests().size() == 2);
}

TEST_CASE("retry: InternalError answered to a create is outcome unknown (it may have been committed)") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.set_default_script({t::serve(answers({"InternalError"}))});
    cbs::client c(io.get_executor(), fast_retry_params(server));
    run(io, server, [&]() -> asio::awaitable<void> {
        auto r = co_await c.async_create_snapshot_group(create_req(), cbs::as_result);
        CHECK(r.ec == client_errc::outcome_unknown);
        CHECK(r.diag.server_code == "InternalError");
        CHECK(r.diag.request_id == "req-0");
        // The same answer to a read is simply retried.
        auto d = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
        CHECK_FALSE(d.ec);
    });
    CHECK(server.requests().size() == 2);
}

TEST_CASE("retry: fatal errors fail at once; attempts are bounded per class") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.set_default_script(
        {t::serve(answers({"InvalidParameter", "InternalError", "InternalError", "InternalError", "InternalError"}))});
    cbs::client c(io.get_executor(), fast_retry_params(server));
    run(io, server, [&]() -> asio::awaitable<void> {
        auto r = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
        CHECK(r.ec == cbs::api_errc::invalid_parameter);
        CHECK(r.diag.attempts == 1);
        auto r2 = co_await c.async_call("DescribeDisks", {}, cbs::as_result);  // 3 InternalErrors: max 3 attempts
        CHECK(r2.ec == cbs::api_errc::internal_error);
        CHECK(r2.diag.attempts == 3);
        CHECK(r2.diag.client_message.find("gave up retrying") != std::string::npos);
    });
    CHECK(server.requests().size() == 4);
}

TEST_CASE("retry: an exhausted retry budget fails fast instead of adding load") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.set_default_script({t::serve(answers({"InternalError", "InternalError"}))});
    auto p = fast_retry_params(server);
    p.retry.budget_capacity = 14;  // exactly one transient retry
    cbs::client c(io.get_executor(), p);
    run(io, server, [&]() -> asio::awaitable<void> {
        auto r = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
        CHECK(r.ec == cbs::api_errc::internal_error);
        CHECK(r.diag.attempts == 2);  // one retry, then the budget is empty
        CHECK(r.diag.client_message.find("budget") != std::string::npos);
    });
    CHECK(c.stats().retry_budget == 0);
    CHECK(server.requests().size() == 2);
}

TEST_CASE("retry: cancelling a call during its backoff ends it at once, saying so") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.set_default_script({t::serve(answers({"RequestLimitExceeded"}))});
    auto p = fast_retry_params(server);
    p.retry.throttle_base = p.retry.throttle_cap = 30s;
    p.jitter_seed = 7;
    cbs::client c(io.get_executor(), p);
    asio::cancellation_signal cancel;
    std::optional<cbs::result<boost::json::object>> got;
    run(io, server, [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        bool finished = false;
        asio::co_spawn(ex, c.async_call("DescribeDisks", {}, cbs::as_result),
                       asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr, auto r) {
                           got = std::move(r);
                           finished = true;
                       }));
        asio::steady_timer wait(ex);
        while (c.stats().retries == 0) {  // the throttle answer has come, backoff started
            wait.expires_after(1ms);
            co_await wait.async_wait(asio::use_awaitable);
        }
        cancel.emit(asio::cancellation_type::terminal);
        while (!finished) {
            wait.expires_after(1ms);
            co_await wait.async_wait(asio::use_awaitable);
        }
    });
    REQUIRE(got);
    CHECK(got->ec == client_errc::cancelled);
    CHECK(got->diag.client_message.find("backoff after RequestLimitExceeded") != std::string::npos);
    CHECK(server.requests().size() == 1);
}

TEST_CASE("limiter: 200 concurrent creates against a strict sliding window: no RequestLimitExceeded") {
    // Scaled: the server allows 200 per sliding second, the client is set to
    // 190/s (the default headroom of 0.95), so 200 calls take about a second.
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    std::deque<std::chrono::steady_clock::time_point> window;
    std::size_t max_in_window = 0, rejected = 0;
    int n = 0;
    server.set_default_script({t::serve([&](const t::recorded_request&) {
        auto now = std::chrono::steady_clock::now();
        while (!window.empty() && now - window.front() >= 1s) window.pop_front();
        if (window.size() >= 200) {
            ++rejected;
            return api_err("RequestLimitExceeded", n++);
        }
        window.push_back(now);
        max_in_window = std::max(max_in_window, window.size());
        return api_ok(n++);
    })});
    auto p = fast_retry_params(server);
    p.rate_limit = true;
    p.rate_overrides = {{"CreateSnapshotGroup", 190}};
    p.pool.max_size = 8;
    cbs::client c(io.get_executor(), p);
    int ok = 0, finished = 0;
    run(io, server, [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        for (int i = 0; i < 200; ++i)
            asio::co_spawn(
                ex,
                [&]() -> asio::awaitable<void> {
                    auto r = co_await c.async_create_snapshot_group(create_req(), cbs::as_result);
                    ok += !r.ec;
                    ++finished;
                },
                asio::detached);
        asio::steady_timer wait(ex);
        while (finished < 200) {
            wait.expires_after(10ms);
            co_await wait.async_wait(asio::use_awaitable);
        }
    });
    CHECK(ok == 200);
    CHECK(rejected == 0);
    CHECK(max_in_window <= 200);
    CHECK(c.stats().throttled == 0);
}

TEST_CASE("limiter: a call's deadline bounds its wait for a token, and the error says so") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.set_default_script({t::serve(answers({}))});
    auto p = fast_retry_params(server);
    p.rate_limit = true;
    p.rate_overrides = {{"DescribeDisks", 1}};  // one token per second
    cbs::client c(io.get_executor(), p);
    run(io, server, [&]() -> asio::awaitable<void> {
        cbs::call_options opts;
        opts.deadline = 100ms;
        auto first = co_await c.async_call("DescribeDisks", {}, opts, cbs::as_result);
        CHECK_FALSE(first.ec);
        auto second = co_await c.async_call("DescribeDisks", {}, opts, cbs::as_result);  // next token in ~1 s
        CHECK(second.ec == client_errc::deadline_exceeded);
        CHECK(second.diag.client_message.find("rate limiter") != std::string::npos);
        CHECK(second.diag.attempts == 0);
    });
    CHECK(server.requests().size() == 1);
}
