// The life of one call as a sans-io state machine: which step comes next
// (lease a connection, take a send token, write, back off, finish) given how
// the previous step ended. src/net/client.cpp drives it with real I/O; the unit
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
// Credentials come first, before the lease: waiting for a credential
// refresh must never hold a connection or a send token. They are checked
// again right before signing (a long pool or limiter wait may outlast them);
// if they lapsed meanwhile, the connection goes back and the call waits for
// the refresh with nothing held (the token is spent).
//
// Two refusals are retried once each, outside the retry policy, because the
// service refused before acting, so even a create may be sent again:
// AuthFailure.TokenFailure (temporary credentials expired or replaced: one
// forced refresh, shared by every call that saw the same credentials
// refused) and AuthFailure.SignatureExpire when the answer's Date header
// gave the client a new clock offset (the retry is signed with a corrected
// timestamp). A second refusal of either kind is final (fatal class).
//
// Decision table (each row has a unit test in test/unit/test_call_fsm.cpp):
//   start                          -> credentials (a new attempt)
//   credentials ok                 -> lease
//   credentials: cancelled         -> done(cancelled)
//   credentials: deadline          -> done(deadline)
//   credentials: fetch failed      -> classified like an exchange failure with nothing written
//                                     (network: backoff; credentials_*: failed), never a throttle
//   leased ok, rate limited        -> acquire_token
//   leased ok, not rate limited    -> write
//   leased error                   -> classified like an exchange failure with nothing written
//   leased: cancelled              -> done(cancelled)
//   token granted                  -> write
//   token: deadline / cancelled    -> done(deadline_exceeded / cancelled); the connection goes back
//   write: credentials lapsed      -> credentials (same attempt); the connection goes back
//   exchanged ok                   -> done(ok)
//   exchanged: AuthFailure.TokenFailure, first time
//                                  -> credentials(force_refresh) (a new attempt)
//   exchanged: AuthFailure.SignatureExpire with a clock correction, first time
//                                  -> credentials(corrected_clock) (a new attempt)
//   exchanged: reused connection failed before any response byte, first
//     resend, and (nothing written or idempotent)     -> lease(fresh_only), then a new token
//   exchanged: cancelled / response too large
//                                  -> done; outcome_unknown if a create was written
//   exchanged: other failure       -> retry_state decides: backoff(delay) | done(failed |
//                                     gave_up | outcome_unknown); a throttle slows the limiter
//   backoff done                   -> credentials (a new attempt)
//   backoff cancelled              -> done(cancelled)
#pragma once

#include <cbs/error.hpp>
#include <cbs/retry_policy.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace cbs::detail {

enum class call_step {
    credentials,    ///< make sure usable credentials exist (may wait for a fetch, bounded by the deadline)
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
    bool new_attempt = false;                      ///< credentials: this starts a new attempt
    bool force_refresh = false;                    ///< credentials: the service refused the ones used: refresh
    bool corrected_clock = false;                  ///< credentials: retry after a clock correction
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
    /// AuthFailure.SignatureExpire and the answer's Date gave a new clock
    /// offset (the driver has applied it).
    bool clock_corrected = false;
};

class call_fsm {
public:
    using time_point = std::chrono::steady_clock::time_point;

    call_fsm(const retry_params& params, bool idempotent, bool rate_limited, time_point start, time_point deadline);

    call_action start();
    /// Credentials are usable ({}), or: client_errc::cancelled,
    /// client_errc::deadline_exceeded, or the fetch's error (with the
    /// service code of an STS refusal, if any).
    call_action on_credentials(error_code ec, std::string_view server_code, time_point now, retry_budget& budget,
                               const uniform_source& uniform);
    /// At the write, the credentials are no longer usable.
    call_action on_credentials_lapsed();
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
    /// The TokenFailure retry / the clock-skew retry was used.
    bool token_retry_used() const noexcept { return token_retry_used_; }
    bool skew_retry_used() const noexcept { return skew_retry_used_; }
    const retry_state& retry() const noexcept { return retry_; }

private:
    call_action after_failure(error_code ec, std::string_view server_code, bool written, time_point now,
                              retry_budget& budget, const uniform_source& uniform);
    call_action finish(call_end e);
    call_action credentials_step(bool new_attempt);

    retry_state retry_;
    bool idempotent_;
    bool rate_limited_;
    bool written_ = false;
    bool stale_resend_used_ = false;  // per attempt: one resend on a fresh connection
    unsigned stale_resends_ = 0;
    bool token_retry_used_ = false;
    bool skew_retry_used_ = false;
    stage stage_ = stage::before_send;
    call_step expect_ = call_step::credentials;  // what the last action asked for (misuse check)
};

/// Parses an HTTP date (RFC 9110 IMF-fixdate, "Sun, 06 Nov 1994 08:49:37
/// GMT") into unix seconds; nullopt for anything else.
std::optional<std::int64_t> parse_http_date(std::string_view text) noexcept;

}  // namespace cbs::detail
