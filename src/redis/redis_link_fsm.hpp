// cbs-async: the reconnect decisions of one Redis link, with no I/O (sans-io:
// no io_context, no clock; the driver is redis_connection.cpp, the tests step
// it by hand in test/unit/test_redis_link_fsm.cpp).
//
//   state            event                      next            actions
//   idle             start                      resolving       start_resolve
//   resolving        resolved                   connecting      start_connect
//   connecting       tcp_connected (no AUTH)    ready           notify_ready
//   connecting       tcp_connected (AUTH)       authenticating  send_auth
//   authenticating   connect_ok                 ready           notify_ready
//   resolving..auth  connect_failed|lost|timeout backoff        drop_link, notify_failed, arm_backoff(d)
//   ready            lost | timeout             backoff         drop_link, notify_lost, arm_backoff(d)
//   backoff          backoff_elapsed            resolving       start_resolve
//   any but stopped  stop                       stopped         drop_link, cancel_timers
//   anything else: no action (a late event of an earlier attempt is ignored)
//
// d: backoff_initial, doubling after each delay up to backoff_max, times a
// jitter factor in [0.75, 1.25) from the injected uniform source, never above
// backoff_max; back to backoff_initial once a link is ready.
#pragma once

#include <cbs/retry_policy.hpp>

#include <chrono>
#include <vector>

namespace cbs::detail {

enum class redis_link_state { idle, resolving, connecting, authenticating, ready, backoff, stopped };
enum class redis_link_event {
    start,            ///< redis_connection::start()
    resolved,         ///< the host's addresses are known
    tcp_connected,    ///< hiredis's connect callback said OK
    connect_ok,       ///< AUTH answered OK
    connect_failed,   ///< resolve, connect or AUTH failed
    lost,             ///< the link dropped (hiredis's disconnect callback)
    timeout,          ///< connect_timeout (attempt) or command_timeout (ready) expired
    backoff_elapsed,  ///< the reconnect delay is over
    stop,             ///< redis_connection::stop()
};

struct redis_link_action {
    enum class kind {
        start_resolve,  ///< arm connect_timeout, resolve the host
        start_connect,  ///< hiredis connect to the resolved addresses
        send_auth,      ///< send AUTH
        notify_ready,   ///< a new link is ready (generation + 1, state handler)
        drop_link,      ///< free the hiredis context (fails what is in flight)
        notify_failed,  ///< an attempt failed (state handler)
        notify_lost,    ///< a ready link was lost (state handler)
        arm_backoff,    ///< wait `delay`, then backoff_elapsed
        cancel_timers,  ///< cancel every timer and the resolver (stop)
    };
    kind what;
    std::chrono::milliseconds delay{0};  ///< arm_backoff only
    bool operator==(const redis_link_action&) const = default;
};

const char* to_string(redis_link_state s) noexcept;

class redis_link_fsm {
public:
    /// `uniform` returns values in [0, 1) (the jitter).
    redis_link_fsm(std::chrono::milliseconds backoff_initial, std::chrono::milliseconds backoff_max, bool needs_auth,
                   uniform_source uniform);

    /// The next state for `e`, and what the driver must do, in order.
    std::vector<redis_link_action> on(redis_link_event e);

    redis_link_state state() const noexcept { return state_; }
    /// resolving, connecting or authenticating.
    bool attempting() const noexcept;
    /// The base of the next reconnect delay (before jitter).
    std::chrono::milliseconds next_backoff() const noexcept { return next_; }

private:
    std::vector<redis_link_action> fail(redis_link_action::kind notify);

    std::chrono::milliseconds initial_;
    std::chrono::milliseconds max_;
    bool needs_auth_;
    uniform_source uniform_;
    std::chrono::milliseconds next_;
    redis_link_state state_ = redis_link_state::idle;
};

}  // namespace cbs::detail
