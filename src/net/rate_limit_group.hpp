// The per-action limiters of one client, or of several clients sharing them
// (client_params::shared_limits): local ones, or ones sharing each action's
// limit with other processes through Redis (client_params::shared_limiter).
// Private to the library.
#pragma once

#include <cbs/client.hpp>
#include <cbs/detail/async_rate_limiter.hpp>
#include <cbs/shared_limiter.hpp>

#include <map>
#include <memory>
#include <string>

namespace cbs {
namespace detail {

/// One action's limiter as the call pipeline uses it (see
/// async_rate_limiter::async_acquire for the contract of each member).
class action_limiter {
public:
    using time_point = std::chrono::steady_clock::time_point;
    virtual ~action_limiter() = default;
    virtual boost::asio::awaitable<error_code> async_acquire(time_point deadline) = 0;
    virtual void on_throttled() = 0;
    virtual void on_success() = 0;
};

/// Today's limiter, in this process only.
class local_action_limiter final : public action_limiter {
public:
    local_action_limiter(boost::asio::any_io_executor ex, const limiter_params& lp) : impl_(std::move(ex), lp) {}
    // Returns the inner coroutine itself: no second frame per acquire.
    boost::asio::awaitable<error_code> async_acquire(time_point deadline) override {
        return impl_.async_acquire(deadline);
    }
    void on_throttled() override { impl_.on_throttled(); }
    void on_success() override { impl_.on_success(); }

private:
    async_rate_limiter<std::chrono::steady_clock> impl_;
};

/// Makes the limiters that share each action's limit with other processes
/// (src/redis), and reports how that goes.
class shared_limiter_backend {
public:
    virtual ~shared_limiter_backend() = default;
    virtual std::unique_ptr<action_limiter> make(const std::string& action, const limiter_params& lp) = 0;
    virtual void add_stats(client_stats& s) const = 0;
};

/// The Redis backend: one connection for the group; keys "<prefix>:<account>:
/// <region>:<action>". Defined only when built with hiredis (CBS_HAVE_REDIS).
std::unique_ptr<shared_limiter_backend> make_redis_limiter_backend(const boost::asio::any_io_executor& ex,
                                                                   const shared_limiter_params& params,
                                                                   const limiter_url& url, std::string key_base);

}  // namespace detail

class rate_limit_group {
public:
    rate_limit_group(boost::asio::any_io_executor ex, std::map<std::string, double, std::less<>> overrides,
                     std::unique_ptr<detail::shared_limiter_backend> shared = nullptr)
        : ex_(std::move(ex)), overrides_(std::move(overrides)), shared_(std::move(shared)) {}

    /// The limiter of `action`, created on first use with the documented
    /// default or the override.
    detail::action_limiter& for_action(const std::string& action) {
        auto it = limiters_.find(action);
        if (it == limiters_.end()) {
            auto lp = default_limiter_params(action);
            if (auto o = overrides_.find(action); o != overrides_.end()) lp.rate_per_second = o->second;
            std::unique_ptr<detail::action_limiter> l;
            if (shared_)
                l = shared_->make(action, lp);
            else
                l = std::make_unique<detail::local_action_limiter>(ex_, lp);
            it = limiters_.emplace(action, std::move(l)).first;
        }
        return *it->second;
    }

    /// The limiter fields of client_stats.
    void add_stats(client_stats& s) const {
        if (shared_) shared_->add_stats(s);
    }

private:
    boost::asio::any_io_executor ex_;
    std::map<std::string, double, std::less<>> overrides_;
    // Declared before the limiters, which use it: destroyed after them.
    std::unique_ptr<detail::shared_limiter_backend> shared_;
    std::map<std::string, std::unique_ptr<detail::action_limiter>, std::less<>> limiters_;
};

}  // namespace cbs
