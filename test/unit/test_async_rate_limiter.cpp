// The async limiter layer on a manual clock: FIFO grants at the paced times,
// a cancelled waiter leaves without a hole, a throttle slows the backlog.
// Deterministic: time moves only when the test advances it.
#include <cbs/detail/async_rate_limiter.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <doctest/doctest.h>

#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

struct manual_clock {
    using rep = std::int64_t;
    using period = std::nano;
    using duration = std::chrono::nanoseconds;
    using time_point = std::chrono::time_point<manual_clock>;
    static constexpr bool is_steady = true;
    static inline time_point current{std::chrono::hours(1)};
    static time_point now() noexcept { return current; }
};

}  // namespace

// Asio arms its reactor's timerfd with real durations; for a manual clock,
// ask it to re-check at once, so a poll() after advancing the clock sees
// every timer that is due in manual time (and none that is not).
template <>
struct boost::asio::wait_traits<manual_clock> {
    static manual_clock::duration to_wait_duration(const manual_clock::duration&) { return {}; }
    static manual_clock::duration to_wait_duration(const manual_clock::time_point&) { return {}; }
};

namespace {

using limiter = cbs::detail::async_rate_limiter<manual_clock>;

struct grant {
    int who;
    std::chrono::milliseconds at;
    cbs::error_code ec;
};

/// Advances the manual clock in 1 ms steps up to `until`, polling after each.
void advance(asio::io_context& io, std::chrono::milliseconds until, manual_clock::time_point start) {
    while (manual_clock::now() - start < until) {
        manual_clock::current += 1ms;
        for (int i = 0; i < 3; ++i) io.poll();  // timerfd of 0 fires at once; poll until handled
    }
}

}  // namespace

TEST_CASE("async limiter: waiters are served FIFO at the paced times; a cancelled one leaves no hole") {
    asio::io_context io;
    cbs::limiter_params lp;
    lp.rate_per_second = 10;  // one send per 100 ms
    limiter lim(io.get_executor(), lp);
    const auto start = manual_clock::now();
    std::vector<grant> grants;
    std::vector<asio::cancellation_signal> cancels(5);
    for (int i = 0; i < 5; ++i) {
        asio::co_spawn(
            io,
            [&, i]() -> asio::awaitable<void> {
                auto ec = co_await lim.async_acquire();
                grants.push_back(
                    {i, std::chrono::duration_cast<std::chrono::milliseconds>(manual_clock::now() - start), ec});
            },
            asio::bind_cancellation_slot(cancels[i].slot(), [](std::exception_ptr e) {
                if (e) std::rethrow_exception(e);
            }));
    }
    io.poll();
    CHECK(lim.waiting() == 4);
    advance(io, 150ms, start);
    cancels[2].emit(asio::cancellation_type::terminal);  // waiter 2 gives up before its slot
    io.poll();
    advance(io, 1000ms, start);
    REQUIRE(grants.size() == 5);
    CHECK(grants[0].who == 0);
    CHECK(grants[0].at == 0ms);
    CHECK(grants[1].who == 1);
    CHECK(grants[1].at == 100ms);
    CHECK(grants[2].who == 2);  // cancelled at 150 ms, reported at once
    CHECK(grants[2].at == 150ms);
    CHECK(grants[2].ec == cbs::client_errc::cancelled);
    CHECK(grants[3].who == 3);  // takes the slot 2 would have had: no hole
    CHECK(grants[3].at == 200ms);
    CHECK(grants[4].who == 4);
    CHECK(grants[4].at == 300ms);
    CHECK_FALSE(grants[4].ec);
    CHECK(lim.waiting() == 0);
    io.run();  // nothing left pending
}

TEST_CASE("async limiter: a throttle slows the whole backlog at once") {
    asio::io_context io;
    cbs::limiter_params lp;
    lp.rate_per_second = 10;
    limiter lim(io.get_executor(), lp);
    const auto start = manual_clock::now();
    std::vector<std::chrono::milliseconds> at;
    for (int i = 0; i < 4; ++i)
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                co_await lim.async_acquire();
                at.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(manual_clock::now() - start));
            },
            [](std::exception_ptr e) {
                if (e) std::rethrow_exception(e);
            });
    io.poll();
    lim.on_throttled();  // rate 10 -> 7/s: interval 143 ms
    advance(io, 1000ms, start);
    REQUIRE(at.size() == 4);
    CHECK(at[0] == 0ms);
    CHECK(at[1] == 100ms);  // the slot after a send is fixed when that send is made
    CHECK(at[2] - at[1] >= 142ms);
    CHECK(at[3] - at[2] >= 142ms);
}
