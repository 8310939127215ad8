#include "rate_window.hpp"

namespace cbs::emu::detail {
namespace {

void expire(std::deque<std::chrono::steady_clock::time_point>& q, std::chrono::steady_clock::time_point now,
            std::chrono::nanoseconds window) {
    // An arrival at t is inside the window ending at now while t > now - window.
    while (!q.empty() && q.front() <= now - window) q.pop_front();
}

}  // namespace

bool rate_window::try_admit(std::string_view key, unsigned limit, time_point now, std::chrono::nanoseconds window) {
    if (limit == 0) return true;
    if (++admits_since_sweep_ >= 4096) sweep(now, window);
    auto it = arrivals_.find(key);
    if (it == arrivals_.end()) it = arrivals_.emplace(std::string(key), std::deque<time_point>{}).first;
    auto& q = it->second;
    expire(q, now, window);
    if (q.size() >= limit) return false;
    q.push_back(now);
    return true;
}

std::size_t rate_window::count(std::string_view key, time_point now, std::chrono::nanoseconds window) {
    auto it = arrivals_.find(key);
    if (it == arrivals_.end()) return 0;
    expire(it->second, now, window);
    return it->second.size();
}

// Drops keys with no arrival in the window, so many SecretIds/actions over a
// long run do not accumulate.
void rate_window::sweep(time_point now, std::chrono::nanoseconds window) {
    admits_since_sweep_ = 0;
    for (auto it = arrivals_.begin(); it != arrivals_.end();) {
        expire(it->second, now, window);
        it = it->second.empty() ? arrivals_.erase(it) : std::next(it);
    }
}

}  // namespace cbs::emu::detail
