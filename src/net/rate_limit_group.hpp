// The per-action limiters of one client, or of several clients sharing them
// (client_params::shared_limits). Private to the library.
#pragma once

#include <cbs/client.hpp>
#include <cbs/detail/async_rate_limiter.hpp>

#include <map>
#include <memory>
#include <string>

namespace cbs {

class rate_limit_group {
public:
    using limiter = detail::async_rate_limiter<std::chrono::steady_clock>;

    rate_limit_group(boost::asio::any_io_executor ex, std::map<std::string, double, std::less<>> overrides)
        : ex_(std::move(ex)), overrides_(std::move(overrides)) {}

    /// The limiter of `action`, created on first use with the documented
    /// default or the override.
    limiter& for_action(const std::string& action) {
        auto it = limiters_.find(action);
        if (it == limiters_.end()) {
            auto lp = default_limiter_params(action);
            if (auto o = overrides_.find(action); o != overrides_.end()) lp.rate_per_second = o->second;
            it = limiters_.emplace(action, std::make_unique<limiter>(ex_, lp)).first;
        }
        return *it->second;
    }

private:
    boost::asio::any_io_executor ex_;
    std::map<std::string, double, std::less<>> overrides_;
    std::map<std::string, std::unique_ptr<limiter>, std::less<>> limiters_;
};

}  // namespace cbs
