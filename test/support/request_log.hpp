// Test helper: what the emulator's own request log says about rates.
#pragma once

#include <cbs/emulator/emulator.hpp>

#include <algorithm>
#include <chrono>
#include <string_view>
#include <vector>

namespace cbs::test {

/// The largest number of the times `t` (any clock) in a sliding window of
/// `window`.
template <class TimePoint>
std::size_t max_in_window(std::vector<TimePoint> t, std::chrono::nanoseconds window = std::chrono::seconds(1)) {
    std::sort(t.begin(), t.end());
    std::size_t best = 0;
    for (std::size_t lo = 0, hi = 0; hi < t.size(); ++hi) {
        while (t[hi] - t[lo] >= window) ++lo;
        best = std::max(best, hi - lo + 1);
    }
    return best;
}

/// The largest number of `action` requests that arrived at the emulator in
/// any sliding window of `window` (every arrival counts, refused ones too:
/// that is what the service's limiter counts).
inline std::size_t max_in_window(const std::vector<emu::request_record>& log, std::string_view action,
                                 std::chrono::milliseconds window = std::chrono::seconds(1)) {
    std::vector<emu::clock::time_point> t;
    for (const auto& r : log)
        if (r.action == action) t.push_back(r.arrival);
    return max_in_window(std::move(t), window);
}

}  // namespace cbs::test
