// Unit tests of the pure rate-limiter core, on a simulated clock.
#include <cbs/rate_limiter_core.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

using namespace std::chrono_literals;
using cbs::limiter_params;
using cbs::rate_limiter_core;
using time_point = std::chrono::steady_clock::time_point;

namespace {

// Simulated time: t0 is an arbitrary, non-zero steady-clock instant.
const time_point t0 = time_point(1'000'000s);

std::int64_t ns_of(time_point t) {
    return (t - t0).count();
}

limiter_params with_rate(double rate, unsigned burst = 1) {
    limiter_params p;
    p.rate_per_second = rate;
    p.burst = burst;
    return p;
}

// Max number of events in any half-open window [t, t + w) (events sorted).
std::size_t max_in_window(std::vector<std::int64_t> ev, std::int64_t w = 1'000'000'000) {
    std::sort(ev.begin(), ev.end());
    std::size_t best = 0, lo = 0;
    for (std::size_t hi = 0; hi < ev.size(); ++hi) {
        while (ev[hi] - ev[lo] >= w) ++lo;
        best = std::max(best, hi - lo + 1);
    }
    return best;
}

bool non_decreasing(const std::vector<std::int64_t>& v) {
    return std::is_sorted(v.begin(), v.end());
}

// Backlog: n waiters all reserve at t0 (slot per waiter).
std::vector<std::int64_t> backlog_slots(rate_limiter_core& rl, std::size_t n) {
    std::vector<std::int64_t> out;
    for (std::size_t i = 0; i < n; ++i) out.push_back(ns_of(rl.reserve(t0).send_at()));
    return out;
}

// Queue-driven: the head reserves when next_free() is due; sends until `end`.
std::vector<std::int64_t> queue_driven(rate_limiter_core& rl, time_point end) {
    std::vector<std::int64_t> out;
    time_point now = t0;
    while (true) {
        now = std::max(now, rl.next_free(now));
        if (now >= end) break;
        out.push_back(ns_of(rl.reserve(now).send_at()));
    }
    return out;
}

std::size_t count_before(const std::vector<std::int64_t>& ev, std::int64_t end) {
    return static_cast<std::size_t>(std::count_if(ev.begin(), ev.end(), [&](std::int64_t t) { return t < end; }));
}

}  // namespace

TEST_CASE("documented rates and defaults") {
    CHECK(cbs::documented_rate("CreateSnapshotGroup") == 20);
    CHECK(cbs::documented_rate("DescribeSnapshotGroups") == 20);
    CHECK(cbs::documented_rate("DeleteSnapshotGroup") == 20);
    CHECK(cbs::documented_rate("ApplySnapshotGroup") == 20);
    CHECK(cbs::documented_rate("CreateSnapshot") == 20);
    CHECK(cbs::documented_rate("DescribeSnapshots") == 20);
    CHECK(cbs::documented_rate("DescribeDisks") == 100);
    CHECK(cbs::documented_rate("AttachDisks") == 10);
    CHECK(cbs::documented_rate("") == 10);
    CHECK(cbs::default_limiter_params("CreateSnapshotGroup").rate_per_second == 19);
    CHECK(cbs::default_limiter_params("DescribeDisks").rate_per_second == 95);
    CHECK(cbs::default_limiter_params("Whatever").rate_per_second == 9.5);
    CHECK(cbs::default_limiter_params("DescribeDisks").burst == 1);
    // The default keeps every window at or under the documented number.
    for (auto a : {"CreateSnapshotGroup", "DescribeDisks", "Other"}) {
        rate_limiter_core rl(cbs::default_limiter_params(a));
        CHECK(rl.window_limit() <= static_cast<std::uint64_t>(cbs::documented_rate(a)));
    }
}

TEST_CASE("emission interval rounds up") {
    CHECK(cbs::emission_interval(20) == 50ms);
    CHECK(cbs::emission_interval(1000) == 1ms);
    CHECK(cbs::emission_interval(19).count() == 52'631'579);
    CHECK(cbs::emission_interval(0.5) == 2s);
    CHECK(cbs::emission_interval(3e9).count() == 1);
    CHECK(cbs::emission_interval(0.7692307692307693).count() * 0.7692307692307693 >= 1e9);
}

TEST_CASE("invalid parameters are rejected") {
    CHECK_THROWS_AS(rate_limiter_core(with_rate(0)), std::invalid_argument);
    CHECK_THROWS_AS(rate_limiter_core(with_rate(-1)), std::invalid_argument);
    CHECK_THROWS_AS(rate_limiter_core(with_rate(20, 0)), std::invalid_argument);
    auto p = with_rate(20);
    p.throttle_decrease = 1.5;
    CHECK_THROWS_AS(rate_limiter_core{p}, std::invalid_argument);
    p = with_rate(20);
    p.min_rate = 0;
    CHECK_THROWS_AS(rate_limiter_core{p}, std::invalid_argument);
}

TEST_CASE("backlog over 60 s: bound, throughput, FIFO") {
    for (double rate : {20.0, 1000.0, 19.0, 95.0}) {
        CAPTURE(rate);
        const auto n = static_cast<std::size_t>(rate * 60);
        SUBCASE("slot per waiter") {
            rate_limiter_core rl(with_rate(rate));
            auto slots = backlog_slots(rl, n + 50);  // more waiters than 60 s can serve
            CHECK(non_decreasing(slots));
            CHECK(max_in_window(slots) <= static_cast<std::size_t>(rate));
            const auto sent = count_before(slots, 60'000'000'000);
            CHECK(static_cast<double>(sent) >= 0.98 * rate * 60);
            CHECK(static_cast<double>(sent) <= rate * 60);
            CHECK(slots.front() == 0);  // the first waiter does not wait
        }
        SUBCASE("queue driven") {
            rate_limiter_core rl(with_rate(rate));
            auto sends = queue_driven(rl, t0 + 60s);
            CHECK(max_in_window(sends) <= static_cast<std::size_t>(rate));
            CHECK(static_cast<double>(sends.size()) >= 0.98 * rate * 60);
        }
    }
}

TEST_CASE("non-integer rate: at most ceil(R) per window") {
    rate_limiter_core rl(with_rate(19.5));
    auto slots = backlog_slots(rl, 2000);
    CHECK(max_in_window(slots) <= 20);
    CHECK(rl.window_limit() == 20);
}

TEST_CASE("random arrivals with idle gaps never exceed the bound") {
    for (unsigned burst : {1u, 3u, 20u, 50u}) {
        CAPTURE(burst);
        rate_limiter_core rl(with_rate(20, burst));
        std::mt19937_64 rng(42 + burst);
        std::exponential_distribution<double> gap_s(25.0);  // offered 25/s > 20/s
        time_point now = t0;
        std::vector<std::int64_t> slots;
        bool never_early = true;
        for (int i = 0; i < 5000; ++i) {
            now += std::chrono::nanoseconds(static_cast<std::int64_t>(gap_s(rng) * 1e9));
            if (i % 700 == 0) now += 3s;  // idle, then a rush
            slots.push_back(ns_of(rl.reserve(now).send_at()));
            never_early = never_early && slots.back() >= ns_of(now);
        }
        CHECK(never_early);
        CHECK(non_decreasing(slots));
        CHECK(max_in_window(slots) <= 20);
    }
}

TEST_CASE("idle period then a burst") {
    SUBCASE("burst 1") {
        rate_limiter_core rl(with_rate(20));
        std::vector<std::int64_t> slots = backlog_slots(rl, 10);
        for (int i = 0; i < 100; ++i) slots.push_back(ns_of(rl.reserve(t0 + 10s).send_at()));
        CHECK(slots[10] == 10'000'000'000);  // the first after idle goes at once
        CHECK(slots[11] == 10'050'000'000);  // then evenly spaced: no stored credit
        CHECK(max_in_window(slots) <= 20);
    }
    SUBCASE("burst 5: five at once, then paced, still <= R per window") {
        rate_limiter_core rl(with_rate(20, 5));
        std::vector<std::int64_t> slots;
        for (int i = 0; i < 5; ++i) slots.push_back(ns_of(rl.reserve(t0 + 10s).send_at()));
        CHECK(std::all_of(slots.begin(), slots.end(), [](std::int64_t s) { return s == 10'000'000'000; }));
        slots.push_back(ns_of(rl.reserve(t0 + 10s).send_at()));
        CHECK(slots.back() == 10'050'000'000);
        for (int i = 0; i < 1200; ++i) slots.push_back(ns_of(rl.reserve(t0 + 10s).send_at()));
        CHECK(non_decreasing(slots));
        CHECK(max_in_window(slots) == 20);  // plain GCRA would allow 24
        const auto sent = count_before(slots, 70'000'000'000);
        CHECK(static_cast<double>(sent) >= 0.98 * 20 * 60);
    }
}

TEST_CASE("throttle: multiplicative decrease, CUBIC recovery to exactly the ceiling") {
    auto p = with_rate(20);
    p.recovery = 3s;
    rate_limiter_core rl(p);
    rl.on_throttled(t0);
    CHECK(rl.current_rate() == doctest::Approx(14.0));
    CHECK(rl.recovering());
    CHECK(rl.interval().count() == 71'428'572);  // ceil(1e9 / 14)
    // Same congestion event: no second decrease within the hold-off.
    rl.on_throttled(t0 + 500ms);
    CHECK(rl.current_rate() == doctest::Approx(14.0));
    CHECK(rl.counters().throttles == 2);
    CHECK(rl.counters().decreases == 1);
    // Slower pacing applies to new reservations.
    auto a = rl.reserve(t0 + 500ms);
    auto b = rl.reserve(t0 + 500ms);
    CHECK((b.send_at() - a.send_at()).count() == 71'428'572);
    // Recovery: concave up to W_max at t = recovery, monotonic, never above.
    double prev = rl.current_rate();
    for (auto t = 100ms; t < 3s; t += 100ms) {
        rl.on_success(t0 + t);
        CHECK(rl.current_rate() >= prev);
        CHECK(rl.current_rate() < 20.0);
        prev = rl.current_rate();
    }
    rl.on_success(t0 + 1500ms);  // out-of-order success: never lowers the rate
    CHECK(rl.current_rate() == prev);
    rl.on_success(t0 + 3s);
    CHECK(rl.current_rate() == 20.0);  // exactly the ceiling
    CHECK_FALSE(rl.recovering());
    CHECK(rl.interval() == 50ms);
    rl.on_success(t0 + 100s);
    CHECK(rl.current_rate() == 20.0);
}

TEST_CASE("throttle: repeated decreases stop at min_rate; recovery passes W_max") {
    auto p = with_rate(20);
    p.min_rate = 2;
    rate_limiter_core rl(p);
    time_point now = t0;
    for (int i = 0; i < 20; ++i) {
        rl.on_throttled(now);
        now += 2s;
    }
    CHECK(rl.current_rate() == 2.0);
    CHECK(rl.counters().decreases == 20);
    // W_max was 2 (the rate at the last decrease); the convex part of the
    // curve still climbs all the way to the ceiling, and stops there.
    rl.on_success(now - 2s + 3s);  // recovery after the last decrease: back to W_max
    CHECK(rl.current_rate() == doctest::Approx(2.0).epsilon(1e-9));
    rl.on_success(now + 30s);
    CHECK(rl.current_rate() == 20.0);
}

TEST_CASE("throttle then backlog: the bound still holds across rate changes") {
    rate_limiter_core rl(with_rate(20));
    std::vector<std::int64_t> sends;
    time_point now = t0;
    for (int i = 0; i < 2000; ++i) {
        now = std::max(now, rl.next_free(now));
        sends.push_back(ns_of(rl.reserve(now).send_at()));
        if (i % 150 == 0) rl.on_throttled(now);
        if (i % 5 == 0) rl.on_success(now);
    }
    CHECK(max_in_window(sends) <= 20);
    CHECK(rl.counters().decreases > 0);
}

TEST_CASE("per-action override of the rate") {
    auto p = cbs::default_limiter_params("CreateSnapshotGroup");
    p.rate_per_second = 5;
    rate_limiter_core rl(p);
    auto slots = backlog_slots(rl, 20);
    CHECK(slots[1] - slots[0] == 200'000'000);
    CHECK(max_in_window(slots) == 5);
    rate_limiter_core fast(with_rate(100));
    CHECK(fast.interval() == 10ms);
}
