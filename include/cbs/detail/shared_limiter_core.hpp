// cbs-async: the decisions of one action's shared (Redis) limiter, without
// I/O, on a caller-given clock. The async layer (src/redis/redis_limiter.cpp)
// asks it what to send to the script and when a fallback may start.
//
// Safety when Redis is lost (docs/reliability.md, "Sharing the limit"):
//  * Slots are reserved at most reserve_ahead before their time, so once a
//    process sees Redis gone, every slot any process holds falls before
//    now + reserve_ahead. Its fallback starts one fallback interval after
//    that (fallback_gate): the shared schedule ran at the full rate up to
//    there, and N fallbacks each sending at once would add N sends to its
//    last window; one interval later they continue it at their share.
//  * Coming back, the first script call says so ("back") and counts this
//    process's sends of the last window that the state has not seen (the
//    fallback's, and the reservations made on a link that died), so the
//    script puts them on its schedule and paces at the hold rate while the
//    other processes may still be on their fallbacks.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>

namespace cbs::detail {

/// Sends per second one process may make on its fallback: ceiling /
/// processes rounded down to a whole number per second when that is at
/// least 1 (N processes each allowed ceil(r) per window could add up past
/// the limit), else ceiling / processes. 0 processes count as 1.
double shared_fallback_rate(double ceiling, unsigned processes) noexcept;

/// The shared pace while others may still be on their fallback: what the
/// other processes' fallbacks leave of the ceiling, at least one fallback's
/// worth.
double shared_hold_rate(double ceiling, unsigned processes) noexcept;

class shared_limiter_core {
public:
    using clock = std::chrono::steady_clock;
    using time_point = clock::time_point;

    struct settings {
        std::chrono::nanoseconds reserve_ahead = std::chrono::milliseconds(250);
        std::chrono::nanoseconds window = std::chrono::seconds(1);
        /// Spacing of the fallback's sends (emission_interval(fallback rate)).
        std::chrono::nanoseconds fallback_interval = std::chrono::milliseconds(167);
    };

    /// What to pass to the script's "acquire".
    struct request {
        bool back = false;             ///< first call after a loss or fallback sends
        std::uint64_t sent = 0;        ///< own sends the state has not seen (back only)
        std::int64_t max_wait_us = 0;  ///< reserve only a slot this close
    };

    /// What to do with the script's answer.
    struct decision {
        enum class kind { send_at, ask_again_at, deadline } what = kind::send_at;
        time_point at;  ///< send_at: the slot; ask_again_at: when to ask
    };

    explicit shared_limiter_core(settings s) : s_(s) {}

    /// Redis was found lost at `now`: fallback sends start at the gate.
    void on_lost(time_point now);
    /// The earliest time a fallback send may go.
    time_point fallback_gate() const noexcept { return gate_; }

    /// A send was granted for `at` (by the script or by the fallback).
    void on_sent(time_point at, bool shared);

    /// The script call for a waiter with `deadline`, at `now`.
    request next_request(time_point now, time_point deadline);

    /// The script answered (granted, wait in us) to the call made at `now`
    /// for a waiter with `deadline`.
    decision on_answer(time_point now, time_point deadline, bool granted, std::int64_t wait_us);

    /// True from a loss or a fallback send until a script answer came back.
    bool back_pending() const noexcept { return back_; }

private:
    void forget_old(time_point now);

    settings s_;
    time_point gate_{};
    bool back_ = false;
    // Send times the shared state may not know: all fallback sends, and
    // shared sends (which a lost state forgets), of the last window.
    std::deque<time_point> recent_;
};

}  // namespace cbs::detail
