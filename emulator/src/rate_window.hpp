// Sliding-window request limiter of the emulator (the server side of the
// documented per-action limits). Deliberately unrelated to the client's
// token-bucket limiter: it must catch the client's mistakes.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>

namespace cbs::emu::detail {

/// Per key, the arrival times of the accepted requests of the last window.
/// A request is accepted when fewer than `limit` were accepted in
/// (now - window, now]. Not thread-safe (the gateway holds its lock).
class rate_window {
public:
    using time_point = std::chrono::steady_clock::time_point;

    /// Counts and accepts the request, or returns false (not counted).
    /// limit 0: unlimited (always true, nothing stored).
    bool try_admit(std::string_view key, unsigned limit, time_point now, std::chrono::nanoseconds window);

    /// Requests accepted for `key` in the window ending at `now`.
    std::size_t count(std::string_view key, time_point now, std::chrono::nanoseconds window);

private:
    struct string_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    std::unordered_map<std::string, std::deque<time_point>, string_hash, std::equal_to<>> arrivals_;
    std::size_t admits_since_sweep_ = 0;
    void sweep(time_point now, std::chrono::nanoseconds window);
};

}  // namespace cbs::emu::detail
