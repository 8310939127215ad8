// cbs-async: pure retry decisions (error classes, backoff, budget, deadline).
//
// No I/O and no clock reads: times and random numbers come from the caller.
// The client's retry loop uses it as:
//
//   retry_state st(params, is_idempotent(action), now);
//   for (;;) {
//       ... one attempt (limiter, sign, exchange) ...
//       if (ok) { st.on_success(budget); break; }
//       auto d = st.on_failure(classify(ec, written, server_code), now, budget, rng);
//       if (d.what == retry_action::retry) { wait d.delay; continue; }
//       if (d.what == retry_action::outcome_unknown) -> client_errc::outcome_unknown
//       else -> the attempt's error (d.reason says why we stopped)
//   }
//
// Thread safety: none. retry_state is per call; retry_budget is shared by
// the calls of one client and used on its strand.
#pragma once

#include <cbs/error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

namespace cbs {

/// What an error means for a retry (docs/reliability.md, "Error classes").
enum class error_class {
    none,                 ///< no error
    throttle,             ///< RequestLimitExceeded[.*]: the server did nothing
    transient,            ///< InternalError[.*], ServiceUnavailable, gateway 5xx, garbled answer
    busy,                 ///< the resource is busy (a snapshot is being created, ...)
    network_before_send,  ///< resolve / connect / TLS failure: nothing was sent
    network_ambiguous,    ///< failure after the request was written: it may have run
    fatal,                ///< retrying cannot help (auth, parameters, quota, cancelled, ...)
};

/// "throttle", "transient", ... ("none" for none).
std::string_view to_string(error_class c) noexcept;

/// The class of a known service code. Every api_errc has one (a switch
/// without default: a new code that is not classified fails to compile
/// cleanly). api_errc::unrecognized is fatal.
error_class classify(api_errc code) noexcept;

/// The class of a service code given as text (Response.Error.Code). Known
/// codes use classify(api_errc); unknown ones go by their prefix:
/// RequestLimitExceeded.* -> throttle; InternalError.*, ServiceUnavailable.*
/// -> transient; ResourceBusy.*, ResourceInUse.* -> busy; anything else
/// (AuthFailure.*, InvalidParameter*, UnsupportedOperation.*, ...) -> fatal.
/// Empty -> none.
error_class classify_code(std::string_view server_code) noexcept;

/// The class of a non-200 HTTP status from a gateway: 429 -> throttle,
/// 5xx -> transient, anything else -> fatal.
error_class classify_http_status(unsigned status) noexcept;

/// The class of the error of one attempt.
///  * cbs.api codes: classify(api_errc); for api_errc::unrecognized the raw
///    `server_code` (diagnostics::server_code) is classified by prefix.
///  * cbs.client codes: resolve/connect/handshake timeouts and pool_exhausted
///    -> network_before_send; request_timeout, connection_closed ->
///    network_ambiguous if `request_written` else network_before_send;
///    http_status (a gateway 5xx), bad_response -> transient; the rest
///    (invalid_request, invalid_config, credentials_*, plain_http_refused,
///    response_too_large, cancelled, outcome_unknown) -> fatal.
///  * operation_canceled / operation_aborted -> fatal (a cancellation).
///  * a permanent TLS failure (is_permanent_tls_failure) -> fatal.
///  * any other code (Asio, system, SSL) is a network failure:
///    network_ambiguous if `request_written`, else network_before_send.
error_class classify(const error_code& ec, bool request_written, std::string_view server_code = {}) noexcept;

/// True for a TLS (OpenSSL, Asio's SSL category) error that another attempt
/// would meet again: certificate verification failed (unknown CA, expired,
/// wrong host name), no protocol version or cipher in common (protocol
/// version or handshake-failure alerts, unsupported protocol, no shared
/// cipher), too weak a key. Transient TLS failures (a stream truncated or a
/// connection reset during the handshake, a handshake timeout) are not.
bool is_permanent_tls_failure(const error_code& ec) noexcept;

/// Whether re-sending `action` after an ambiguous failure is safe.
/// False for actions that create or charge something: any action starting
/// with Create, Apply, Copy, Renew, Run, Allocate or Purchase (this covers
/// CreateSnapshotGroup, CreateSnapshot, ApplySnapshotGroup).
/// True for everything else: reads (Describe*, Inquiry*/Inquire* prices,
/// Get*, ...) and actions that set a state (Delete*, Modify*, Attach*,
/// Detach*, Terminate*, Resize*): a repeat cannot do the work twice, it can
/// only fail with a state error (e.g. *.NotFound after a Delete that did
/// land), which a caller seeing diagnostics::attempts > 1 may take as done.
bool is_idempotent(std::string_view action) noexcept;

/// Retry constants (AWS's standard retry mode where a field says so; classes in
/// docs/reliability.md, "Error classes"). Durations must be positive.
/// A *_max_attempts counts the attempts that failed with that class: the
/// call gives up on the N-th such failure (0: no limit, only the deadline).
struct retry_params {
    /// Throttle: first backoff ceiling. Default 1 s (AWS throttling base).
    std::chrono::nanoseconds throttle_base = std::chrono::seconds(1);
    /// Throttle: largest backoff ceiling. Default 20 s (AWS cap).
    std::chrono::nanoseconds throttle_cap = std::chrono::seconds(20);
    /// Throttle: attempts. Default 6 (the limiter slows down meanwhile).
    unsigned throttle_max_attempts = 6;
    /// Throttle: budget cost of a retry. Default 5 (AWS 2026).
    int throttle_cost = 5;

    /// Transient: first backoff ceiling. Default 250 ms.
    std::chrono::nanoseconds transient_base = std::chrono::milliseconds(250);
    /// Transient: largest backoff ceiling. Default 20 s.
    std::chrono::nanoseconds transient_cap = std::chrono::seconds(20);
    /// Transient: attempts. Default 3 (AWS default).
    unsigned transient_max_attempts = 3;
    /// Transient: budget cost of a retry. Default 14 (AWS 2026).
    int transient_cost = 14;

    /// Busy: first backoff ceiling. Default 5 s (a snapshot takes seconds).
    std::chrono::nanoseconds busy_base = std::chrono::seconds(5);
    /// Busy: largest backoff ceiling. Default 60 s.
    std::chrono::nanoseconds busy_cap = std::chrono::seconds(60);
    /// Busy: attempts. Default 0: unbounded, stopped by the deadline.
    unsigned busy_max_attempts = 0;
    /// Busy: budget cost of a retry. Default 0 (no charge: not an outage).
    int busy_cost = 0;

    /// Network (both classes): first backoff ceiling. Default 250 ms.
    std::chrono::nanoseconds network_base = std::chrono::milliseconds(250);
    /// Network (both classes): largest backoff ceiling. Default 20 s.
    std::chrono::nanoseconds network_cap = std::chrono::seconds(20);
    /// Network (each class): attempts. Default 3.
    unsigned network_max_attempts = 3;
    /// Network, nothing sent: budget cost of a retry. Default 5.
    int network_before_send_cost = 5;
    /// Network, ambiguous: budget cost of a retry. Default 10 (AWS timeout cost).
    int network_ambiguous_cost = 10;

    /// Per-call deadline from the first attempt: no retry whose backoff ends
    /// after it. Default 10 min (the per-instance deadline of busy disks).
    std::chrono::nanoseconds deadline = std::chrono::minutes(10);

    /// Retry budget capacity (and initial tokens). Default 500 (AWS).
    int budget_capacity = 500;
    /// Tokens a first-try success adds back. Default 1 (AWS).
    int budget_success_reward = 1;
};

/// The per-class limits picked out of retry_params.
struct retry_class_limits {
    std::chrono::nanoseconds base{0};  ///< first backoff ceiling
    std::chrono::nanoseconds cap{0};   ///< largest backoff ceiling
    unsigned max_attempts = 0;         ///< 0: unbounded
    int cost = 0;                      ///< retry budget cost
};

/// Limits of `c` (all zero for none and fatal).
retry_class_limits limits_for(const retry_params& p, error_class c) noexcept;

/// min(cap, base * 2^n), without overflow for any n.
std::chrono::nanoseconds backoff_ceiling(std::chrono::nanoseconds base, std::chrono::nanoseconds cap,
                                         unsigned n) noexcept;

/// Full jitter: floor(u * min(cap, base * 2^n)) with u from [0, 1] (clamped;
/// NaN counts as 0). n is 0 for the first retry.
std::chrono::nanoseconds full_jitter(std::chrono::nanoseconds base, std::chrono::nanoseconds cap, unsigned n,
                                     double u) noexcept;

/// A source of uniform numbers in [0, 1).
using uniform_source = std::function<double()>;

/// A seeded uniform source (std::mt19937_64). For production seed it from
/// std::random_device; tests pass their own lambda.
uniform_source make_uniform_source(std::uint64_t seed);

/// A token bucket of retries shared by the calls of one client (AWS retry
/// quota): a retry spends its class's cost, a success after retries refunds
/// the last retry's cost, a first-try success adds budget_success_reward;
/// never more than capacity. When a retry cannot be paid, the call fails
/// fast instead of adding load to an outage.
class retry_budget {
public:
    /// Starts full (params.budget_capacity tokens).
    explicit retry_budget(const retry_params& params = {});
    /// Starts with `initial_tokens` (clamped to [0, capacity]), for tests.
    retry_budget(const retry_params& params, int initial_tokens);

    /// Spends the cost of a retry of class `c`; false (nothing spent) if the
    /// budget holds less than the cost.
    bool try_acquire(error_class c) noexcept;
    /// A call succeeded. was_retry: it took more than one attempt, and
    /// `last` is the class of its last retry (whose cost is refunded).
    void on_success(bool was_retry, error_class last) noexcept;

    /// Tokens left.
    int available() const noexcept { return tokens_; }
    int capacity() const noexcept { return capacity_; }
    /// Cost of a retry of class `c`.
    int cost(error_class c) const noexcept;
    /// try_acquire() calls refused for lack of tokens.
    std::uint64_t refused() const noexcept { return refused_; }

private:
    retry_params params_;
    int capacity_;
    int tokens_;
    std::uint64_t refused_ = 0;
};

/// What the retry loop does next.
enum class retry_action {
    retry,            ///< wait `delay`, then send again (a fresh signature)
    fail,             ///< stop; report the attempt's error
    outcome_unknown,  ///< stop; the request may have run: reconcile, don't re-send
};

/// Why the loop stopped (none when it retries).
enum class give_up_reason {
    none,              ///< retrying
    not_retryable,     ///< fatal (or none) class
    not_idempotent,    ///< transient / ambiguous failure of a non-idempotent call
    max_attempts,      ///< this class's max attempts reached
    deadline,          ///< the backoff would end after the call's deadline
    budget_exhausted,  ///< the shared retry budget is empty: failing fast
};

/// "none", "not_retryable", ...
std::string_view to_string(give_up_reason r) noexcept;

/// The decision after one failed attempt.
struct retry_decision {
    retry_action what = retry_action::fail;
    std::chrono::nanoseconds delay{0};  ///< backoff before the retry (retry only)
    give_up_reason reason = give_up_reason::none;
    error_class cls = error_class::none;  ///< the class of the failure decided on
};

/// The retry bookkeeping of one call.
class retry_state {
public:
    using time_point = std::chrono::steady_clock::time_point;

    /// A call starting at `start`; its deadline is start + params.deadline.
    retry_state(const retry_params& params, bool idempotent, time_point start);
    /// A call with an explicit deadline (e.g. the caller's own).
    retry_state(const retry_params& params, bool idempotent, time_point start, time_point deadline);

    /// Records a failed attempt of class `c` at `now` and decides. Order:
    /// fatal -> fail; non-idempotent and transient or network_ambiguous ->
    /// outcome_unknown (the server may have committed; the fleet engine reconciles
    /// first); max attempts of the class -> fail; the jittered delay (n =
    /// this class's earlier failures) ending after the deadline -> fail;
    /// budget cannot pay -> fail; else retry. Throttle, busy and
    /// network_before_send retry non-idempotent calls too (nothing ran).
    /// `uniform` is called once, only when a delay is computed (an empty
    /// source means u = 1: no jitter, the longest wait).
    retry_decision on_failure(error_class c, time_point now, retry_budget& budget, const uniform_source& uniform);

    /// The call succeeded: tells the budget (refund or reward).
    void on_success(retry_budget& budget) noexcept;

    /// Failed attempts so far.
    unsigned failures() const noexcept { return failures_total_; }
    /// Failed attempts of class `c` so far.
    unsigned failures(error_class c) const noexcept;
    /// Retries decided so far.
    unsigned retries() const noexcept { return retries_; }
    /// Class of the last retry decided (none before any).
    error_class last_retry_class() const noexcept { return last_retry_class_; }
    time_point deadline() const noexcept { return deadline_; }
    bool idempotent() const noexcept { return idempotent_; }

private:
    static constexpr std::size_t class_count = 7;
    retry_params params_;
    bool idempotent_;
    time_point deadline_;
    unsigned failures_[class_count] = {};
    unsigned failures_total_ = 0;
    unsigned retries_ = 0;
    error_class last_retry_class_ = error_class::none;
};

}  // namespace cbs
