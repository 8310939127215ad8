// The async layer of one action's rate limiter: a FIFO queue of waiters in
// front of rate_limiter_core, driven by one timer.
//
// Queue-driven rather than slot-per-waiter: the head waiter takes a slot only
// when it is due, so a throttle (rate decrease) applies to the whole backlog at
// once, and a cancelled waiter simply leaves the queue without leaving a hole.
//
// Templated on the clock so tests drive it with a manual clock (advance, then
// io_context::poll()) and stay deterministic. Internal; not thread-safe: all
// calls on one strand (the client's).
#pragma once

#include <cbs/error.hpp>
#include <cbs/rate_limiter_core.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <list>
#include <memory>

namespace cbs::detail {

template <class Clock>
class async_rate_limiter {
public:
    using timer_type = boost::asio::basic_waitable_timer<Clock>;

    async_rate_limiter(boost::asio::any_io_executor ex, const limiter_params& params)
        : ex_(ex), core_(params), pump_(ex) {}

    ~async_rate_limiter() {
        *alive_ = false;
        for (auto* w : queue_) w->timer.cancel();
    }

    /// Waits (FIFO) until a send is allowed, and takes that slot. Returns {}
    /// when granted; client_errc::cancelled if the awaiting coroutine was
    /// cancelled first, client_errc::deadline_exceeded if `deadline` came
    /// first (either way the waiter leaves the queue; nothing is consumed).
    /// The waiter's own timer is both its wake-up and its deadline: no
    /// second timer, no parallel group.
    boost::asio::awaitable<error_code> async_acquire(typename Clock::time_point deadline = Clock::time_point::max()) {
        const auto now = core_now();
        if (queue_.empty() && core_.next_free(now) <= now) {
            core_.reserve(now);
            co_return error_code{};
        }
        if (deadline <= Clock::now()) co_return client_errc::deadline_exceeded;
        waiter w{timer_type(ex_, deadline)};
        auto it = queue_.insert(queue_.end(), &w);
        arm();
        auto alive = alive_;
        auto [ec] = co_await w.timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        if (!*alive) co_return client_errc::cancelled;
        if (w.granted) co_return error_code{};
        // Cancelled or out of time while queued: leave; the next head may be due now.
        const bool was_head = it == queue_.begin();
        queue_.erase(it);
        if (queue_.empty()) {
            // Nobody waits: no timer may keep the io_context running.
            pump_.cancel();
            pump_armed_ = false;
        } else if (was_head) {
            arm();
        }
        if (ec) co_return client_errc::cancelled;
        co_return client_errc::deadline_exceeded;
    }

    /// The service answered RequestLimitExceeded: slow down, and re-time the
    /// head waiter at the new rate (the whole backlog follows it).
    void on_throttled() {
        core_.on_throttled(core_now());
        arm();
    }
    void on_success() { core_.on_success(core_now()); }
    const rate_limiter_core& core() const noexcept { return core_; }
    std::size_t waiting() const noexcept { return queue_.size(); }

private:
    struct waiter {
        timer_type timer;
        bool granted = false;
    };

    // The core counts in steady_clock time points; a manual test clock maps
    // onto the same nanosecond axis.
    rate_limiter_core::time_point core_now() const {
        return rate_limiter_core::time_point(
            std::chrono::duration_cast<rate_limiter_core::time_point::duration>(Clock::now().time_since_epoch()));
    }

    /// (Re)arms the pump for the head waiter's slot; a no-op when it is
    /// already armed for that time (the common case while a backlog grows).
    void arm() {
        if (queue_.empty()) return;
        const auto due = typename Clock::time_point(
            std::chrono::duration_cast<typename Clock::duration>(core_.next_free(core_now()).time_since_epoch()));
        if (pump_armed_ && due == pump_.expiry()) return;
        pump_armed_ = true;
        pump_.expires_at(due);
        pump_.async_wait([this, alive = alive_](error_code ec) {
            if (ec || !*alive) return;  // re-armed (a newer wait is pending) or destroyed
            pump_armed_ = false;
            grant_due();
        });
    }

    /// Grants every waiter whose slot has come, in order, then re-arms.
    void grant_due() {
        const auto now = core_now();
        while (!queue_.empty() && core_.next_free(now) <= now) {
            core_.reserve(now);
            auto* w = queue_.front();
            queue_.pop_front();
            w->granted = true;
            w->timer.cancel();
        }
        arm();
    }

    boost::asio::any_io_executor ex_;
    rate_limiter_core core_;
    timer_type pump_;
    bool pump_armed_ = false;
    std::list<waiter*> queue_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace cbs::detail
