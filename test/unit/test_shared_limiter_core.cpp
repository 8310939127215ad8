// The shared limiter's pure parts: the URL, the fallback arithmetic and the
// decisions around a loss of Redis, on a simulated clock.
#include <cbs/detail/shared_limiter_core.hpp>
#include <cbs/shared_limiter.hpp>

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using core = cbs::detail::shared_limiter_core;

namespace {
core::time_point at(std::chrono::milliseconds ms) {
    return core::time_point(ms);
}
}  // namespace

TEST_CASE("shared limiter url: the forms it takes") {
    std::string err;
    auto u = cbs::parse_limiter_url("redis://127.0.0.1:6380/team-a", err);
    REQUIRE(u);
    CHECK(u->host == "127.0.0.1");
    CHECK(u->port == 6380);
    CHECK(u->prefix == "team-a");
    CHECK(u->user.empty());
    u = cbs::parse_limiter_url("redis://limits.internal", err);
    REQUIRE(u);
    CHECK(u->port == 6379);
    CHECK(u->prefix == "cbs-limit");
    u = cbs::parse_limiter_url("redis://ops:p@ss/w0rd@[::1]:7000/", err);
    REQUIRE(u);
    CHECK(u->user == "ops");
    CHECK(u->password == "p@ss/w0rd");
    CHECK(u->host == "::1");
    CHECK(u->port == 7000);
    CHECK(u->redacted() == "redis://ops:***@[::1]:7000/cbs-limit");
    CHECK(u->redacted().find("w0rd") == std::string::npos);
    u = cbs::parse_limiter_url("redis://:only-pass@h:1", err);
    REQUIRE(u);
    CHECK(u->user.empty());
    CHECK(u->password == "only-pass");
}

TEST_CASE("shared limiter url: bad ones are refused naming what is wrong, never the password") {
    const std::pair<const char*, const char*> cases[] = {
        {"http://h:6379", "must start with redis://"},
        {"rediss://h:6380", "TLS"},
        {"redis://", "no host"},
        {"redis://:secretpw@:6379", "no host"},
        {"redis://h:0", "port \"0\""},
        {"redis://h:70000", "port \"70000\""},
        {"redis://h:63x9", "port \"63x9\""},
        {"redis://h:", "port \"\""},
        {"redis://h/my prefix", "prefix"},
        {"redis://[::1/x", "closing"},
        {"redis://u:@h", "empty password"},
    };
    for (auto [url, what] : cases) {
        CAPTURE(url);
        std::string err;
        CHECK_FALSE(cbs::parse_limiter_url(url, err));
        CHECK(err.find(what) != std::string::npos);
        CHECK(err.find("secretpw") == std::string::npos);
    }
}

TEST_CASE("shared limiter: the fallback share is whole sends per second, so N fallbacks stay under the limit") {
    CHECK(cbs::detail::shared_fallback_rate(19, 3) == 6);  // 3 x 6 = 18 <= 20 in every second
    CHECK(cbs::detail::shared_fallback_rate(19, 2) == 9);
    CHECK(cbs::detail::shared_fallback_rate(19, 1) == 19);
    CHECK(cbs::detail::shared_fallback_rate(19, 0) == 19);
    CHECK(cbs::detail::shared_fallback_rate(19, 40) == doctest::Approx(0.475));
    CHECK(cbs::detail::shared_hold_rate(19, 3) == 7);  // 19 - 2 x 6: what two fallbacks leave
    CHECK(cbs::detail::shared_hold_rate(19, 1) == 19);
    CHECK(cbs::detail::shared_hold_rate(1, 4) == doctest::Approx(0.25));
}

TEST_CASE("shared limiter core: reservations only within reserve_ahead and the deadline") {
    core c({250ms, 1s, 167ms});
    auto r = c.next_request(at(1000ms), at(1100ms));
    CHECK_FALSE(r.back);
    CHECK(r.max_wait_us == 100'000);  // the deadline is nearer than reserve_ahead
    r = c.next_request(at(1000ms), core::time_point::max());
    CHECK(r.max_wait_us == 250'000);
    // Granted: send at now + wait.
    auto d = c.on_answer(at(1000ms), core::time_point::max(), true, 40'000);
    CHECK(d.what == core::decision::kind::send_at);
    CHECK(d.at == at(1040ms));
    // Not granted, slot 900 ms away: ask again when it is within reach.
    d = c.on_answer(at(1000ms), core::time_point::max(), false, 900'000);
    CHECK(d.what == core::decision::kind::ask_again_at);
    CHECK(d.at == at(1650ms));
    // ... unless the deadline comes first.
    d = c.on_answer(at(1000ms), at(1500ms), false, 900'000);
    CHECK(d.what == core::decision::kind::deadline);
    // A wait just over reserve_ahead never makes a busy loop.
    d = c.on_answer(at(1000ms), core::time_point::max(), false, 250'001);
    CHECK(d.at == at(1001ms));
}

TEST_CASE("shared limiter core: after a loss, the fallback waits out every reserved slot and one interval") {
    core c({250ms, 1s, 167ms});
    c.on_sent(at(900ms), true);
    c.on_sent(at(950ms), true);
    c.on_lost(at(1000ms));
    CHECK(c.fallback_gate() == at(1417ms));  // 1000 + 250 (slots held) + 167 (one fallback interval)
    CHECK(c.back_pending());
    // A later loss moves the gate on, an earlier one never back.
    c.on_lost(at(900ms));
    CHECK(c.fallback_gate() == at(1417ms));
    c.on_sent(at(1417ms), false);
    c.on_sent(at(1584ms), false);
    // Back: the state hears of this process's sends of the last second (the
    // shared ones too: a restarted Redis forgot them).
    auto r = c.next_request(at(1700ms), core::time_point::max());
    CHECK(r.back);
    CHECK(r.sent == 4);
    r = c.next_request(at(1920ms), core::time_point::max());
    CHECK(r.sent == 3);  // 900 ms is a second old
    c.on_answer(at(1920ms), core::time_point::max(), false, 10'000);
    CHECK_FALSE(c.back_pending());
    r = c.next_request(at(1930ms), core::time_point::max());
    CHECK_FALSE(r.back);
    CHECK(r.sent == 0);
}

TEST_CASE("shared limiter core: a fallback send alone (Redis never reached) is reported when Redis comes") {
    core c({250ms, 1s, 167ms});
    c.on_sent(at(10ms), false);
    auto r = c.next_request(at(20ms), core::time_point::max());
    CHECK(r.back);
    CHECK(r.sent == 1);
}
