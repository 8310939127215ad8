// The life of one call as a sans-io state machine: which step comes next
// (lease a connection, take a send token, write, back off, finish) given how
// the previous step ended. src/client.cpp drives it with real I/O; the unit
// tests drive it by hand, with no io_context.
//
// The order is the point. A call first holds a connection, then takes its
// token from the action's limiter, then writes at once. Taking the token
// before holding a connection would let token holders pile up behind a busy
// pool and reach the wire in a burst when connections free up (measured: 33
// creates in one second against a limit of 20 with slow answers). With the
// connection in hand the only thing between the token and the write is
// signing, so the limiter's spacing is the spacing on the wire. Every write
// takes its own token: a retry after a backoff and the resend on a fresh
// connection after a stale kept-alive one alike.
//
// Decision table (each row has a unit test in test/unit/test_call_fsm.cpp):
//   start                          -> lease (a new attempt)
//   leased ok, rate limited        -> acquire_token
//   leased ok, not rate limited    -> write
//   leased error                   -> classified like an exchange failure with nothing written
//   leased: cancelled              -> done(cancelled)
//   token granted                  -> write
//   token: deadline / cancelled    -> done(deadline_exceeded / cancelled); the connection goes back
//   exchanged ok                   -> done(ok)
//   exchanged: reused connection failed before any response byte, first
//     resend, and (nothing written or idempotent)     -> lease(fresh_only), then a new token
//   exchanged: cancelled / response too large
//                                  -> done; outcome_unknown if a create was written
//   exchanged: other failure       -> retry_state decides: backoff(delay) | done(failed |
//                                     gave_up | outcome_unknown); a throttle slows the limiter
//   backoff done                   -> lease (a new attempt)
//   backoff cancelled              -> done(cancelled)
#pragma once

#include <cbs/error.hpp>
#include <cbs/retry_policy.hpp>

#include <chrono>
#include <string_view>

namespace cbs::detail {

enum class call_step {
    lease,          ///< lease a pooled connection (fresh_only: not an idle one)
    acquire_token,  ///< take a send token from the action's limiter, bounded by the deadline
    write,          ///< sign with a fresh timestamp and exchange on the held connection, now
    backoff,        ///< wait `delay` holding no connection
    done,           ///< the call is over: see call_action::end and ec
};

/// Why a finished call finished.
enum class call_end {
    none,             ///< not finished
    ok,               ///< success
    failed,           ///< a failure that is not retried (fatal class), ec is the attempt's error
    gave_up,          ///< retryable, but attempts, deadline or budget ran out (see reason)
    outcome_unknown,  ///< a non-idempotent request was written and its outcome is unknown
    cancelled,        ///< cancelled by the caller (stage: see call_fsm::stage())
    deadline,         ///< the deadline passed while waiting for a token
};

struct call_action {
    call_step step = call_step::done;
    bool fresh_only = false;                       ///< lease: skip idle connections (after a stale one)
    bool new_attempt = false;                      ///< lease: this starts a new attempt (not a stale resend)
    bool slow_limiter = false;                     ///< the failure was a throttle: slow the action's limiter
    std::chrono::nanoseconds delay{0};             ///< backoff
    error_class retry_class = error_class::none;   ///< backoff: the class retried
    call_end end = call_end::none;                 ///< done
    give_up_reason reason = give_up_reason::none;  ///< done(gave_up)
};

/// How one exchange ended, as the driver saw it (after parsing the answer).
struct exchange_outcome {
    error_code ec{};               ///< {} success; else transport, HTTP, API or parse error
    std::string_view server_code;  ///< the service's Code, for API errors
    bool written = false;          ///< any request byte reached the socket
    bool reused = false;           ///< the connection came from the idle pool
    bool got_response_bytes = false;
};

class call_fsm {
public:
    using time_point = std::chrono::steady_clock::time_point;

    call_fsm(const retry_params& params, bool idempotent, bool rate_limited, time_point start, time_point deadline);

    call_action start();
    /// The lease ended: {} (a connection is held), client_errc::cancelled, or a
    /// connect-phase error (nothing was written).
    call_action on_leased(error_code ec, time_point now, retry_budget& budget, const uniform_source& uniform);
    /// The limiter answered: {} granted, client_errc::deadline_exceeded or cancelled.
    call_action on_token(error_code ec);
    call_action on_exchanged(const exchange_outcome& o, time_point now, retry_budget& budget,
                             const uniform_source& uniform);
    call_action on_backoff_done(bool cancelled);

    /// Where a cancellation hit: 0 before anything was written, 1 waiting for
    /// a token, 2 during the backoff, 3 during an exchange.
    enum class stage { before_send, limiter, backoff, exchange };
    stage cancel_stage() const noexcept { return stage_; }
    /// Any request byte of this call written, in any attempt.
    bool written() const noexcept { return written_; }
    /// Stale-connection resends so far.
    unsigned stale_resends() const noexcept { return stale_resends_; }
    const retry_state& retry() const noexcept { return retry_; }

private:
    call_action after_failure(error_code ec, std::string_view server_code, bool written, time_point now,
                              retry_budget& budget, const uniform_source& uniform);
    call_action finish(call_end e);

    retry_state retry_;
    bool idempotent_;
    bool rate_limited_;
    bool written_ = false;
    bool stale_resend_used_ = false;  // per attempt: one resend on a fresh connection
    unsigned stale_resends_ = 0;
    stage stage_ = stage::before_send;
    call_step expect_ = call_step::lease;  // what the last action asked for (misuse check)
};

}  // namespace cbs::detail
