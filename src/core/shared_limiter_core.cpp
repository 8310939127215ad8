// The decisions of one action's shared limiter (see shared_limiter_core.hpp).
#include <cbs/detail/shared_limiter_core.hpp>

#include <algorithm>
#include <cmath>

namespace cbs::detail {

double shared_fallback_rate(double ceiling, unsigned processes) noexcept {
    const double share = ceiling / std::max(1u, processes);
    const double whole = std::floor(share);
    return whole >= 1 ? whole : share;
}

double shared_hold_rate(double ceiling, unsigned processes) noexcept {
    const unsigned n = std::max(1u, processes);
    const double fallback = shared_fallback_rate(ceiling, n);
    return std::max(fallback, ceiling - fallback * (n - 1));
}

void shared_limiter_core::on_lost(time_point now) {
    gate_ = std::max(gate_, now + s_.reserve_ahead + s_.fallback_interval);
    back_ = true;
}

void shared_limiter_core::forget_old(time_point now) {
    while (!recent_.empty() && recent_.front() + s_.window <= now) recent_.pop_front();
}

void shared_limiter_core::on_sent(time_point at, bool shared) {
    if (!shared) back_ = true;
    // Kept sorted: shared slots come in order, fallback sends after them.
    recent_.insert(std::upper_bound(recent_.begin(), recent_.end(), at), at);
}

shared_limiter_core::request shared_limiter_core::next_request(time_point now, time_point deadline) {
    using std::chrono::duration_cast;
    using std::chrono::microseconds;
    forget_old(now);
    request r;
    r.back = back_;
    if (back_) r.sent = recent_.size();
    const auto room = deadline > now ? deadline - now : clock::duration::zero();
    r.max_wait_us = duration_cast<microseconds>(std::min<clock::duration>(room, s_.reserve_ahead)).count();
    return r;
}

shared_limiter_core::decision shared_limiter_core::on_answer(time_point now, time_point deadline, bool granted,
                                                             std::int64_t wait_us) {
    back_ = false;  // the state has seen this process's sends now
    const auto slot = now + std::chrono::microseconds(std::max<std::int64_t>(0, wait_us));
    decision d;
    if (granted) {
        d.what = decision::kind::send_at;
        d.at = slot;
        return d;
    }
    if (slot > deadline) {
        d.what = decision::kind::deadline;
        return d;
    }
    // Ask again when the slot comes within reach; at least 1 ms on, so a
    // rounding difference never makes a busy loop.
    d.what = decision::kind::ask_again_at;
    d.at = std::max(slot - s_.reserve_ahead, now + std::chrono::milliseconds(1));
    return d;
}

}  // namespace cbs::detail
