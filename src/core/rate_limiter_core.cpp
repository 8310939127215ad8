// The pure core of the per-action rate limiter (see rate_limiter_core.hpp).
#include <cbs/rate_limiter_core.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace cbs {
namespace {

// "Long ago": the initial theoretical arrival time, far enough from INT64_MIN
// that subtracting any tolerance cannot overflow.
constexpr std::int64_t long_ago = std::numeric_limits<std::int64_t>::min() / 4;
// Upper bound of an emission interval / tolerance (~36 years; keeps sums safe).
constexpr std::int64_t max_span = std::int64_t{1} << 60;

struct documented_limit {
    std::string_view action;
    double rate;
};

// Published per-action limits (cloud.tencent.com CBS API pages; see
// docs/reliability.md, "Rate limits").
constexpr std::array documented_limits{
    documented_limit{"CreateSnapshotGroup", 20}, documented_limit{"DescribeSnapshotGroups", 20},
    documented_limit{"DeleteSnapshotGroup", 20}, documented_limit{"ApplySnapshotGroup", 20},
    documented_limit{"CreateSnapshot", 20},      documented_limit{"DescribeSnapshots", 20},
    documented_limit{"DescribeDisks", 100},
};
constexpr double undocumented_rate = 10;

std::int64_t to_ns(std::chrono::steady_clock::time_point t) noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

std::chrono::steady_clock::time_point from_ns(std::int64_t ns) noexcept {
    using tp = std::chrono::steady_clock::time_point;
    return tp(std::chrono::duration_cast<tp::duration>(std::chrono::nanoseconds(ns)));
}

}  // namespace

double documented_rate(std::string_view action) noexcept {
    for (const auto& entry : documented_limits)
        if (entry.action == action) return entry.rate;
    return undocumented_rate;
}

limiter_params default_limiter_params(std::string_view action) noexcept {
    limiter_params p;
    // documented * 95 / 100 is exact for the integer limits (19, 95, 9.5),
    // unlike documented * 0.95.
    p.rate_per_second = documented_rate(action) * (default_rate_headroom * 100.0) / 100.0;
    // Burst stays 1. Burst 2 would catch up the timer's lateness (burst 1
    // loses ~35 us per send: 0.07% at 20/s, 3% at 1000/s, bench/README.md),
    // but two sends back to back leave no room for arrival-time skew: the
    // emulator, counting by arrival, saw 21 in a second when the first two
    // sends waited for a TLS handshake and the later ones did not.
    return p;
}

std::chrono::nanoseconds emission_interval(double rate_per_second) noexcept {
    if (!(rate_per_second > 0)) return std::chrono::nanoseconds(max_span);
    const double t = std::ceil(1e9 / rate_per_second);
    if (!(t < static_cast<double>(max_span))) return std::chrono::nanoseconds(max_span);
    auto ns = std::max<std::int64_t>(1, static_cast<std::int64_t>(t));
    // Guard against the division rounding down: T * rate must be >= 1e9.
    while (static_cast<double>(ns) * rate_per_second < 1e9) ++ns;
    return std::chrono::nanoseconds(ns);
}

rate_limiter_core::rate_limiter_core(const limiter_params& params)
    : params_(params), tat_(long_ago), last_slot_(long_ago) {
    const auto positive = [](double v) { return std::isfinite(v) && v > 0; };
    if (!positive(params.rate_per_second))
        throw std::invalid_argument("limiter_params: rate_per_second must be positive");
    if (!positive(params.min_rate)) throw std::invalid_argument("limiter_params: min_rate must be positive");
    if (params.burst == 0) throw std::invalid_argument("limiter_params: burst must be >= 1");
    if (params.window.count() <= 0) throw std::invalid_argument("limiter_params: window must be positive");
    if (params.recovery.count() <= 0) throw std::invalid_argument("limiter_params: recovery must be positive");
    if (params.throttle_holdoff.count() < 0)
        throw std::invalid_argument("limiter_params: throttle_holdoff must not be negative");
    if (!(params.throttle_decrease > 0 && params.throttle_decrease <= 1))
        throw std::invalid_argument("limiter_params: throttle_decrease must be in (0, 1]");
    min_rate_ = std::min(params.min_rate, params.rate_per_second);
    const double per_window = std::ceil(params.rate_per_second * (static_cast<double>(params.window.count()) / 1e9));
    window_limit_ = per_window < 1 ? 1 : static_cast<std::uint64_t>(per_window);
    set_rate(params.rate_per_second);
}

void rate_limiter_core::set_rate(double rate) noexcept {
    rate_ = rate;
    interval_ = emission_interval(rate).count();
    const std::int64_t extra = static_cast<std::int64_t>(params_.burst) - 1;
    tau_ = (extra == 0) ? 0 : (interval_ > max_span / extra ? max_span : extra * interval_);
}

std::int64_t rate_limiter_core::slot_at(std::int64_t now) const noexcept {
    std::int64_t slot = std::max({now, tat_ - tau_, last_slot_});
    // burst > 1: never the (limit+1)-th send of any window. recent_ is sorted;
    // the limit-th newest slot p forces slot >= p + window.
    if (params_.burst > 1 && recent_.size() >= window_limit_)
        slot = std::max(slot, recent_[recent_.size() - window_limit_] + params_.window.count());
    return slot;
}

limiter_reservation rate_limiter_core::reserve(time_point now) {
    const std::int64_t now_ns = to_ns(now);
    // Slots older than a window can no longer share a window with a new one.
    while (!recent_.empty() && recent_.front() + params_.window.count() <= now_ns) recent_.pop_front();

    limiter_reservation r;
    r.slot_ = slot_at(now_ns);
    r.id_ = ++next_id_;

    tat_ = std::max(tat_, r.slot_) + interval_;
    last_slot_ = r.slot_;
    if (params_.burst > 1) recent_.push_back(r.slot_);
    ++counters_.reservations;
    return r;
}

rate_limiter_core::time_point rate_limiter_core::next_free(time_point now) const noexcept {
    return from_ns(slot_at(to_ns(now)));
}

void rate_limiter_core::on_throttled(time_point now) {
    ++counters_.throttles;
    const std::int64_t now_ns = to_ns(now);
    if (recovering_ && now_ns - decrease_at_ < params_.throttle_holdoff.count()) return;
    w_max_ = rate_;
    set_rate(std::max(rate_ * params_.throttle_decrease, min_rate_));
    decrease_at_ = now_ns;
    recovering_ = true;
    ++counters_.decreases;
}

void rate_limiter_core::on_success(time_point now) {
    if (!recovering_) return;
    // CUBIC: W(t) = W_max + C (t - K)^3 with K = recovery and
    // C = W_max (1 - beta) / K^3, i.e. W(0) = beta W_max, W(K) = W_max.
    const double k = static_cast<double>(params_.recovery.count());
    const double t = static_cast<double>(std::max<std::int64_t>(0, to_ns(now) - decrease_at_));
    const double x = (t - k) / k;
    const double w = w_max_ * (1.0 + (1.0 - params_.throttle_decrease) * x * x * x);
    if (w >= ceiling()) {
        set_rate(ceiling());
        recovering_ = false;
    } else if (w > rate_) {
        set_rate(w);
    }
}

}  // namespace cbs
