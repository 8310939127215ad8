// cbs-async: the pure core of the per-action rate limiter.
//
// GCRA ("virtual scheduling") on an integer-nanosecond steady clock, with
// reservations (x/time/rate style) and an AWS-adaptive-style feedback loop
// (multiplicative decrease on RequestLimitExceeded, CUBIC recovery, hard cap
// at the configured rate). No I/O, no Asio, no clock reads: every function
// takes `now` from the caller, so tests drive it with a simulated clock.
//
// Guarantee (tested): with configured rate R, burst b and window W (1 s),
// no half-open window [t, t + W) contains more than ceil(R * W) send times
// returned by reserve() (exactly R for an integer R, as all defaults are).
//  * burst 1: every two consecutive send times are at least
//    T = ceil(1e9 / R) ns apart (T never shrinks below that, whatever the
//    adaptive rate does), so a window holds at most ceil(W / T) <= ceil(R W).
//  * burst b > 1: plain GCRA would allow b + ceil(R W) - 1 per window (the
//    x/time/rate bound), so the core also keeps the send times of the last
//    window and never schedules the (k+1)-th send of a window; the burst is
//    "up to b back to back after an idle period, still <= R per window".
//    Sustained throughput stays R either way.
//
// The async layer (detail/async_rate_limiter.hpp) drives it as a queue:
// waiters queue in FIFO; one timer waits for next_free(now) and calls
// reserve(now) for the head when it is due. A rate decrease then applies to
// the whole backlog at once and a cancelled waiter (which never reserved)
// leaves no hole.
//
// Thread safety: none. The async layer owns one object per limiter key and
// uses it on one strand.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string_view>

namespace cbs {

/// The fraction of the documented per-action limit the default limiters pace
/// at: 0.95. The service counts by *arrival* time (docs/reliability.md), so
/// network jitter compresses gaps between requests paced exactly at the limit;
/// a simulated 20/s server with a strict sliding window rejected ~4.5% of a
/// client paced at 20/s, and none at 19/s with up to 10 ms jitter. A throttle
/// costs a retry and a 30% rate cut, far more than the 5% given up here.
inline constexpr double default_rate_headroom = 0.95;

/// The documented limit of `action`, in requests per second (per account,
/// access region and action): 20 for the snapshot-group family,
/// CreateSnapshot and DescribeSnapshots; 100 for DescribeDisks; 10 (a
/// conservative guess) for any other action.
double documented_rate(std::string_view action) noexcept;

/// Parameters of one limiter (one action). All must be positive (burst >= 1).
struct limiter_params {
    /// The ceiling: sends per second never exceeded, even after recovery.
    /// Default 9.5 (0.95 x the conservative 10/s assumed for an undocumented
    /// action); default_limiter_params(action) sets 0.95 x documented_rate.
    double rate_per_second = 9.5;

    /// Sends allowed back to back after an idle period. Default 1: sends are
    /// evenly spaced, the friendliest pattern for an arrival-time counter.
    /// Any b keeps the per-window guarantee (see the file comment).
    unsigned burst = 1;

    /// The window of the guarantee (used to cap bursts when burst > 1).
    /// Default 1 s, the service's window.
    std::chrono::nanoseconds window = std::chrono::seconds(1);

    /// Multiplicative decrease on a throttle: rate <- max(rate * beta,
    /// min_rate). Default 0.7 (beta of AWS adaptive retry / CUBIC).
    double throttle_decrease = 0.7;

    /// Time the CUBIC recovery curve takes to climb from beta * W_max back to
    /// W_max (the rate before the decrease); it then keeps rising (convex) up
    /// to the ceiling. Default 3 s (AWS's C = 0.4 gives 2.4 s at 19/s).
    std::chrono::nanoseconds recovery = std::chrono::seconds(3);

    /// Throttles within this time after a decrease count as the same
    /// congestion event (those requests were already in flight) and do not
    /// decrease again. Default 1 s (one window).
    std::chrono::nanoseconds throttle_holdoff = std::chrono::seconds(1);

    /// Floor of the adaptive rate, in sends per second. Default 0.5 (AWS
    /// MIN_FILL_RATE). Values above the ceiling act as the ceiling.
    double min_rate = 0.5;
};

/// The default parameters for `action`: rate = default_rate_headroom x
/// documented_rate(action) (19/s, 95/s, 9.5/s), everything else as in
/// limiter_params. Override fields to change them (e.g. a user's per-action
/// rate).
limiter_params default_limiter_params(std::string_view action) noexcept;

/// Emission interval for a rate: ceil(1e9 / rate) ns, at least 1 ns, so that
/// rounding can never make the pace faster than `rate`.
std::chrono::nanoseconds emission_interval(double rate_per_second) noexcept;

/// A slot handed out by rate_limiter_core::reserve().
class limiter_reservation {
public:
    using time_point = std::chrono::steady_clock::time_point;

    /// When the caller may send (>= the `now` it reserved at).
    time_point send_at() const noexcept {
        using std::chrono::duration_cast;
        return time_point(duration_cast<time_point::duration>(std::chrono::nanoseconds(slot_)));
    }
    /// Sequence number (1, 2, ...), in reservation order. 0: default-constructed.
    std::uint64_t id() const noexcept { return id_; }

private:
    friend class rate_limiter_core;
    std::int64_t slot_ = 0;
    std::uint64_t id_ = 0;
};

/// Counters for metrics.
struct limiter_counters {
    std::uint64_t reservations = 0;  ///< reserve() calls
    std::uint64_t throttles = 0;     ///< on_throttled() calls
    std::uint64_t decreases = 0;     ///< throttles that lowered the rate
};

/// The limiter state for one key (action). Pure; not thread-safe.
class rate_limiter_core {
public:
    using time_point = std::chrono::steady_clock::time_point;

    /// Throws std::invalid_argument if a parameter is out of range (rate,
    /// min_rate, window, recovery not positive; burst 0; decrease not in (0, 1]).
    explicit rate_limiter_core(const limiter_params& params);

    /// Takes the next slot (FIFO: each call pushes the schedule forward) and
    /// returns it; the caller sends at send_at(). `now` must not go back in
    /// time between calls.
    limiter_reservation reserve(time_point now);

    /// The slot reserve(now) would return, without taking it.
    time_point next_free(time_point now) const noexcept;

    /// The service answered RequestLimitExceeded (any sub-code): unless
    /// within throttle_holdoff of the previous decrease, rate <- max(rate *
    /// beta, min_rate) and a CUBIC recovery starts. Affects new reservations.
    void on_throttled(time_point now);

    /// A call through this limiter succeeded: advances the recovery (the
    /// rate follows the CUBIC curve of the time since the last decrease,
    /// capped at the ceiling, as AWS adaptive mode does on success).
    void on_success(time_point now);

    /// The rate new reservations are paced at (<= ceiling()).
    double current_rate() const noexcept { return rate_; }
    /// The configured rate (limiter_params::rate_per_second).
    double ceiling() const noexcept { return params_.rate_per_second; }
    /// Spacing of new reservations at the current rate.
    std::chrono::nanoseconds interval() const noexcept { return std::chrono::nanoseconds(interval_); }
    /// Sends allowed in one window: ceil(ceiling * window).
    std::uint64_t window_limit() const noexcept { return window_limit_; }
    /// True between a decrease and full recovery.
    bool recovering() const noexcept { return recovering_; }
    const limiter_params& params() const noexcept { return params_; }
    const limiter_counters& counters() const noexcept { return counters_; }

private:
    std::int64_t slot_at(std::int64_t now) const noexcept;
    void set_rate(double rate) noexcept;

    limiter_params params_;
    double rate_;                      // current pace (sends/s)
    double min_rate_;                  // min(params.min_rate, ceiling)
    std::int64_t interval_ = 0;        // T at rate_
    std::int64_t tau_ = 0;             // (burst - 1) * T: GCRA tolerance
    std::int64_t tat_;                 // theoretical arrival time of the next send
    std::int64_t last_slot_;           // newest slot handed out (FIFO floor)
    std::uint64_t window_limit_;       // ceil(ceiling * window)
    std::deque<std::int64_t> recent_;  // burst > 1: slots not older than a window
    std::uint64_t next_id_ = 0;
    bool recovering_ = false;
    double w_max_ = 0;              // rate before the last decrease
    std::int64_t decrease_at_ = 0;  // time of the last decrease
    limiter_counters counters_;
};

}  // namespace cbs
