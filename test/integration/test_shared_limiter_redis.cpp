// The shared limiter against a real redis-server: the Lua script's arithmetic
// (with the time given, so every figure is exact), then the limiter itself,
// two groups standing for two processes.
#if defined(CBS_HAVE_REDIS)
#include "../../src/net/rate_limit_group.hpp"
#include "redis_connection.hpp"
#include "redis_limiter_script.hpp"
#include "support/redis_server.hpp"
#include "support/request_log.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <doctest/doctest.h>

#include <algorithm>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

/// One connection to the test's server, used synchronously.
struct script_runner {
    explicit script_runner(std::uint16_t port) : conn(io.get_executor(), params(port)) {
        conn.start();
        for (int i = 0; i < 200 && !conn.ready(); ++i) io.run_for(10ms);
        REQUIRE(conn.ready());
    }
    static cbs::detail::redis_link_params params(std::uint16_t port) {
        cbs::detail::redis_link_params p;
        p.port = port;
        return p;
    }
    cbs::detail::redis_reply command(std::vector<std::string> argv) {
        bool done = false;
        cbs::detail::redis_reply out;
        conn.async_command(std::move(argv), [&](cbs::error_code ec, cbs::detail::redis_reply r) {
            REQUIRE_MESSAGE(!ec, ec.message() << " " << r.str);
            out = std::move(r);
            done = true;
        });
        while (!done) io.run_one();
        return out;
    }
    asio::io_context io;
    cbs::detail::redis_connection conn;
};

/// The script's arguments, with the defaults of a 19/s action and the time given.
struct call {
    std::string op = "acquire";
    double ceiling = 19, min_rate = 0.5, beta = 0.7;
    long long recovery_us = 3'000'000, holdoff_us = 1'000'000, max_wait_us = 250'000;
    bool back = false;
    long long sent = 0;
    double hold_rate = 7;
    long long hold_us = 3'250'000, ttl_ms = 60'000;
    long long now_us = 0;
};

struct answer {
    bool granted;
    long long wait_us;
    double rate;
    bool holding;
};

answer run(script_runner& r, const std::string& key, const call& c) {
    const auto reply = r.command({"EVAL", cbs::detail::shared_limiter_script, "1", key, c.op, std::to_string(c.ceiling),
                                  std::to_string(c.min_rate), std::to_string(c.beta), std::to_string(c.recovery_us),
                                  std::to_string(c.holdoff_us), std::to_string(c.max_wait_us), c.back ? "1" : "0",
                                  std::to_string(c.sent), std::to_string(c.hold_rate), std::to_string(c.hold_us),
                                  std::to_string(c.ttl_ms), c.now_us ? std::to_string(c.now_us) : std::string()});
    REQUIRE(reply.type == cbs::detail::redis_reply::kind::array);
    REQUIRE(reply.elements.size() == 4);
    return {reply.elements[0].integer == 1, reply.elements[1].integer,
            static_cast<double>(reply.elements[2].integer) / 1000, reply.elements[3].integer == 1};
}

constexpr long long t0 = 1'800'000'000'000'000;  // a time in us, 2027

}  // namespace

TEST_CASE("shared limiter script: slots 1/rate apart, reserved only within max_wait") {
    cbs::test::redis_server redis;
    script_runner r(redis.port());
    call c;
    c.now_us = t0;
    auto a = run(r, "k", c);
    CHECK(a.granted);
    CHECK(a.wait_us == 0);
    CHECK(a.rate == 19);
    // ceil(1e6 / 19) = 52632 us apart, whatever the calls' own times.
    c.now_us = t0 + 1000;
    a = run(r, "k", c);
    CHECK(a.granted);
    CHECK(a.wait_us == 52'632 - 1000);
    for (int i = 2; i <= 4; ++i) {
        a = run(r, "k", c);
        CHECK(a.granted);
        CHECK(a.wait_us == 52'632 * i - 1000);
    }
    // The next slot is 5 x 52632 - 1000 = 262160 us away: beyond max_wait
    // (250 ms), answered but not reserved, and asking again changes nothing.
    a = run(r, "k", c);
    CHECK_FALSE(a.granted);
    CHECK(a.wait_us == 262'160);
    a = run(r, "k", c);
    CHECK(a.wait_us == 262'160);
    // A second key (another action or account) has its own schedule.
    a = run(r, "other", c);
    CHECK(a.wait_us == 0);
    // The state expires (ttl) rather than lingering.
    const auto ttl = r.command({"PTTL", "k"});
    CHECK(ttl.integer > 59'000);
    CHECK(ttl.integer <= 60'000);
}

TEST_CASE("shared limiter script: a throttle cuts the rate by beta for everyone, once per holdoff, CUBIC back") {
    cbs::test::redis_server redis;
    script_runner r(redis.port());
    call c;
    c.now_us = t0;
    run(r, "k", c);
    call t = c;
    t.op = "throttle";
    auto a = run(r, "k", t);
    CHECK(a.rate == doctest::Approx(13.3).epsilon(0.001));  // 19 x 0.7
    // Within the holdoff: the same congestion event, no second cut.
    t.now_us = t0 + 500'000;
    a = run(r, "k", t);
    // The curve at 0.5 s, not a cut: 19 x (1 + 0.3 x ((0.5 - 3) / 3)^3).
    CHECK(a.rate == doctest::Approx(19 * (1 + 0.3 * -0.578704)).epsilon(0.001));
    // The curve: beta x wmax right after, wmax after `recovery` (3 s).
    c.now_us = t0 + 1;
    CHECK(run(r, "k", c).rate == doctest::Approx(13.3).epsilon(0.001));
    c.now_us = t0 + 3'000'000;
    CHECK(run(r, "k", c).rate == doctest::Approx(19));
    // 1.5 s in: 19 x (1 + 0.3 x (-0.5)^3) = 18.2875.
    c.now_us = t0 + 1'500'000;
    CHECK(run(r, "k", c).rate == doctest::Approx(18.2875).epsilon(0.001));
    // The slots follow the rate: at 13.3/s they are ceil(1e6 / 13.3) = 75188 us apart.
    cbs::test::redis_server redis2;
    script_runner r2(redis2.port());
    c.now_us = t0;
    run(r2, "k", c);
    t.now_us = t0;
    run(r2, "k", t);
    c.now_us = t0 + 1;
    const auto first = run(r2, "k", c);
    const auto second = run(r2, "k", c);
    CHECK(second.wait_us - first.wait_us == 75'188);
    // Never below min_rate, whatever the throttles.
    t.min_rate = 15;
    t.now_us = t0 + 2'000'000;  // 18.79 x 0.7 = 13.15 would be below it
    CHECK(run(r2, "k", t).rate == doctest::Approx(15));
}

TEST_CASE("shared limiter script: back after a loss, a lost state holds the slots out and paces at the hold rate") {
    cbs::test::redis_server redis;
    script_runner r(redis.port());
    call c;
    c.now_us = t0;
    c.back = true;
    c.sent = 3;  // this process's sends of the last second, unseen by this (fresh) state
    // Fresh state: slots of before run up to max_wait (250 ms) ahead; then 3
    // sends at the hold rate (7/s: ceil(1e6 / 7) = 142858 us each).
    auto a = run(r, "k", c);
    CHECK(a.holding);
    CHECK(a.rate == 7);
    CHECK(a.wait_us == 250'000 + 3 * 142'858);
    CHECK_FALSE(a.granted);  // beyond max_wait: not reserved, but the state is kept
    c.back = false;
    c.sent = 0;
    c.max_wait_us = 10'000'000;
    a = run(r, "k", c);
    CHECK(a.granted);
    CHECK(a.wait_us == 250'000 + 3 * 142'858);
    a = run(r, "k", c);
    CHECK(a.wait_us == 250'000 + 4 * 142'858);
    // The hold lasts `hold` (3.25 s) from the last process back, then the full rate.
    c.now_us = t0 + 3'250'000;
    a = run(r, "k", c);
    CHECK_FALSE(a.holding);
    CHECK(a.rate == 19);
    // A second process back later extends the hold.
    c.back = true;
    c.now_us = t0 + 4'000'000;
    a = run(r, "k", c);
    CHECK(a.holding);
    c.back = false;
    c.now_us = t0 + 7'000'000;
    CHECK(run(r, "k", c).holding);
    c.now_us = t0 + 7'250'000;
    CHECK_FALSE(run(r, "k", c).holding);
}

TEST_CASE("shared limiter script: the server's TIME when no time is given") {
    cbs::test::redis_server redis;
    script_runner r(redis.port());
    call c;
    auto a = run(r, "k", c);
    CHECK(a.granted);
    CHECK(a.wait_us == 0);
    a = run(r, "k", c);
    CHECK(a.granted);
    // The second slot is one interval after the first, less the time between the calls.
    CHECK(a.wait_us <= 52'632);
    CHECK(a.wait_us > 52'632 - 50'000);
    const auto tat = r.command({"HGET", "k", "tat"});
    const auto now = r.command({"TIME"});
    const long long server_us = std::stoll(now.elements[0].str) * 1'000'000 + std::stoll(now.elements[1].str);
    CHECK(std::stoll(tat.str) > server_us);
    CHECK(std::stoll(tat.str) <= server_us + 2 * 52'632);
}

namespace {

/// A group on its own io_context: one "process".
struct process {
    explicit process(std::uint16_t port, unsigned processes = 2) {
        cbs::shared_limiter_params p;
        p.url = "redis://127.0.0.1:" + std::to_string(port) + "/test";
        p.expected_processes = processes;
        p.reconnect_max = 200ms;
        p.on_notice = [this](const std::string& n) { notices.push_back(n); };
        group = cbs::make_rate_limit_group(io.get_executor(), {{"CreateSnapshotGroup", 19}}, p);
    }
    cbs::detail::action_limiter& lim() { return group->for_action("CreateSnapshotGroup"); }
    /// Starts `n` acquisitions; each grant's time goes to `grants`.
    void acquire(int n, steady::time_point deadline = steady::time_point::max()) {
        for (int i = 0; i < n; ++i)
            asio::co_spawn(
                io,
                [this, deadline]() -> asio::awaitable<void> {
                    const auto ec = co_await lim().async_acquire(deadline);
                    if (ec)
                        errors.push_back(ec);
                    else
                        grants.push_back(steady::now());
                },
                asio::detached);
    }
    cbs::client_stats stats() const {
        cbs::client_stats s;
        group->add_stats(s);
        return s;
    }
    asio::io_context io;
    std::shared_ptr<cbs::rate_limit_group> group;
    std::vector<steady::time_point> grants;
    std::vector<cbs::error_code> errors;
    std::vector<std::string> notices;
};

/// Runs both processes' io_contexts in turns (one thread) for `d`.
void run_both(process& a, process& b, steady::duration d) {
    const auto end = steady::now() + d;
    while (steady::now() < end) {
        a.io.run_for(1ms);
        b.io.run_for(1ms);
        a.io.restart();
        b.io.restart();
    }
}

}  // namespace

TEST_CASE("shared limiter: two processes share one rate through Redis") {
    cbs::test::redis_server redis;
    process a(redis.port()), b(redis.port());
    a.acquire(20);
    b.acquire(20);
    run_both(a, b, 2400ms);
    REQUIRE(a.grants.size() + b.grants.size() == 40);
    CHECK(a.errors.empty());
    CHECK(b.errors.empty());
    std::vector<steady::time_point> all = a.grants;
    all.insert(all.end(), b.grants.begin(), b.grants.end());
    // 19/s shared: 40 grants take 2.05 s, never more than 20 in a second.
    CHECK(cbs::test::max_in_window(all) <= 20);
    CHECK(a.grants.size() >= 10);  // neither process starves the other
    CHECK(b.grants.size() >= 10);
    CHECK(a.stats().limiter_shared_grants == a.grants.size());
    CHECK(a.stats().limiter_fallback_grants == 0);
    CHECK(a.stats().limiter.find("redis://127.0.0.1:") == 0);
}

TEST_CASE("shared limiter: a throttle seen by one process slows the other") {
    cbs::test::redis_server redis;
    process a(redis.port()), b(redis.port());
    a.acquire(1);  // opens a's link (the throttle goes only over a live one)
    a.io.run_for(300ms);
    REQUIRE(a.grants.size() == 1);
    a.lim().on_throttled();
    a.io.restart();
    a.io.run_for(100ms);  // the throttle script runs
    b.acquire(4);
    b.io.run_for(1500ms);
    REQUIRE(b.grants.size() == 4);
    // 19 x 0.7 = 13.3/s: 75 ms apart (at 19/s they would be 52.6 ms).
    for (std::size_t i = 1; i < b.grants.size(); ++i) CHECK(b.grants[i] - b.grants[i - 1] >= 70ms);
}

TEST_CASE("shared limiter: a deadline before the slot fails without taking it; FIFO within a process") {
    cbs::test::redis_server redis;
    process a(redis.port());
    std::vector<int> order;
    for (int i = 0; i < 5; ++i)
        asio::co_spawn(
            a.io,
            [&, i]() -> asio::awaitable<void> {
                if (!co_await a.lim().async_acquire(steady::time_point::max())) order.push_back(i);
            },
            asio::detached);
    a.acquire(1, steady::now() + 100ms);  // 6th in line: its slot is 263 ms away
    a.io.run_for(600ms);
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
    REQUIRE(a.errors.size() == 1);
    CHECK(a.errors[0] == cbs::client_errc::deadline_exceeded);
    // Nothing was reserved for it: the next grant follows the 5th at one interval.
    a.io.restart();
    a.acquire(1);
    a.io.run_for(400ms);
    CHECK(a.grants.size() == 1);
}

TEST_CASE("shared limiter: Redis killed, the processes fall back at their share; restarted, they come back") {
    cbs::test::redis_server redis;
    process a(redis.port(), 2), b(redis.port(), 2);
    a.acquire(60);
    b.acquire(60);
    run_both(a, b, 1000ms);
    redis.kill();
    run_both(a, b, 1500ms);
    CHECK(a.stats().limiter_fallback);
    CHECK(a.stats().limiter_fallbacks == 1);
    CHECK(a.stats().limiter_fallback_grants > 0);
    REQUIRE_FALSE(a.notices.empty());
    CHECK(a.notices[0].find("unavailable") != std::string::npos);
    redis.restart();
    run_both(a, b, 2500ms);
    CHECK_FALSE(a.stats().limiter_fallback);
    CHECK_FALSE(b.stats().limiter_fallback);
    CHECK(a.notices.back().find("answers again") != std::string::npos);
    std::vector<steady::time_point> all = a.grants;
    all.insert(all.end(), b.grants.begin(), b.grants.end());
    MESSAGE("grants " << all.size() << ", max in a second " << cbs::test::max_in_window(all) << ", fallback grants "
                      << a.stats().limiter_fallback_grants + b.stats().limiter_fallback_grants);
    CHECK(cbs::test::max_in_window(all) <= 20);
    CHECK(a.errors.empty());
    CHECK(b.errors.empty());
}

TEST_CASE("shared limiter: no Redis at all, the first acquisitions wait connect_timeout, then the fallback") {
    std::uint16_t port = 0;
    {
        cbs::test::redis_server gone;
        port = gone.port();
    }
    process a(port, 4);
    a.acquire(3);
    a.io.run_for(2500ms);
    CHECK(a.grants.size() == 3);
    CHECK(a.stats().limiter_fallback);
    CHECK(a.stats().limiter_fallback_grants == 3);
    // 19 / 4 = 4.75, rounded down to 4/s: 250 ms apart.
    REQUIRE(a.grants.size() == 3);
    CHECK(a.grants[2] - a.grants[1] >= 249ms);
}

TEST_CASE("shared limiter: a bad URL or an option clash is a configuration error naming it") {
    asio::io_context io;
    cbs::shared_limiter_params p;
    p.url = "rediss://h:1";
    try {
        cbs::make_rate_limit_group(io.get_executor(), {}, p);
        FAIL("accepted");
    } catch (const cbs::error& e) {
        CHECK(std::string(e.what()).find("TLS") != std::string::npos);
    }
    p.url = "redis://h:1";
    p.expected_processes = 0;
    CHECK_THROWS_AS(cbs::make_rate_limit_group(io.get_executor(), {}, p), cbs::error);
}
#endif
