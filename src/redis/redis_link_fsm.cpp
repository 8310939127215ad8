// The reconnect state machine of a Redis link (see the table in the header).
#include "redis_link_fsm.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace cbs::detail {

using std::chrono::milliseconds;
using kind = redis_link_action::kind;
using st = redis_link_state;
using ev = redis_link_event;

const char* to_string(redis_link_state s) noexcept {
    switch (s) {
        case st::idle:
            return "idle";
        case st::resolving:
            return "resolving";
        case st::connecting:
            return "connecting";
        case st::authenticating:
            return "authenticating";
        case st::ready:
            return "ready";
        case st::backoff:
            return "backoff";
        case st::stopped:
            return "stopped";
    }
    return "?";
}

redis_link_fsm::redis_link_fsm(milliseconds backoff_initial, milliseconds backoff_max, bool needs_auth,
                               uniform_source uniform)
    : initial_(std::max(backoff_initial, milliseconds(1))),
      max_(std::max(backoff_max, initial_)),
      needs_auth_(needs_auth),
      uniform_(std::move(uniform)),
      next_(initial_) {}

bool redis_link_fsm::attempting() const noexcept {
    return state_ == st::resolving || state_ == st::connecting || state_ == st::authenticating;
}

std::vector<redis_link_action> redis_link_fsm::fail(kind notify) {
    const milliseconds base = next_;
    next_ = std::min(next_ * 2, max_);
    double u = uniform_ ? uniform_() : 0.5;
    u = std::clamp(u, 0.0, 1.0);
    const auto jittered = milliseconds(std::llround(static_cast<double>(base.count()) * (0.75 + 0.5 * u)));
    state_ = st::backoff;
    return {{kind::drop_link}, {notify}, {kind::arm_backoff, std::min(jittered, max_)}};
}

std::vector<redis_link_action> redis_link_fsm::on(redis_link_event e) {
    if (state_ == st::stopped) return {};
    if (e == ev::stop) {
        state_ = st::stopped;
        return {{kind::drop_link}, {kind::cancel_timers}};
    }
    switch (state_) {
        case st::idle:
            if (e != ev::start) return {};
            state_ = st::resolving;
            return {{kind::start_resolve}};
        case st::resolving:
            if (e == ev::resolved) {
                state_ = st::connecting;
                return {{kind::start_connect}};
            }
            break;
        case st::connecting:
            if (e == ev::tcp_connected) {
                if (needs_auth_) {
                    state_ = st::authenticating;
                    return {{kind::send_auth}};
                }
                state_ = st::ready;
                next_ = initial_;
                return {{kind::notify_ready}};
            }
            break;
        case st::authenticating:
            if (e == ev::connect_ok) {
                state_ = st::ready;
                next_ = initial_;
                return {{kind::notify_ready}};
            }
            break;
        case st::ready:
            if (e == ev::lost || e == ev::timeout) return fail(kind::notify_lost);
            return {};
        case st::backoff:
            if (e != ev::backoff_elapsed) return {};
            state_ = st::resolving;
            return {{kind::start_resolve}};
        case st::stopped:
            return {};
    }
    // An attempt (resolving, connecting, authenticating) that fails.
    if (e == ev::connect_failed || e == ev::lost || e == ev::timeout) return fail(kind::notify_failed);
    return {};
}

}  // namespace cbs::detail
