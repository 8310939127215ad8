// cbs-async: the Tencent Cloud API 3.0 client for CBS.
//
// One `cbs::client` = one endpoint, one set of credentials, one connection
// pool. Every operation takes an Asio completion token (default
// `boost::asio::use_awaitable`):
//
//   cbs::client c(io.get_executor(), params);
//   cbs::create_snapshot_group_request req{.disk_ids = {"disk-12345678"}};
//   auto rsp = co_await c.async_create_snapshot_group(req);
//   c.async_create_snapshot_group(req, {}, diag, [](cbs::error_code ec, auto rsp) { ... });
//   auto r = co_await c.async_create_snapshot_group(req, cbs::as_result);  // never throws
//
// Threading: by default (client_params::thread_safe) the client runs every
// call on an internal strand of the executor it was given, so it may be called
// concurrently from any threads of that execution context. With thread_safe =
// false there is no strand: calls must all come from one thread at a time (a
// single-threaded io_context, or one strand). The client must outlive every
// call in flight (destroying it with calls pending is undefined behaviour):
// cancel() and let the calls finish first.
//
// Cancellation: every operation supports Asio per-operation cancellation
// (terminal, e.g. via `awaitable_operators` `||` or `bind_cancellation_slot`),
// and cancel() cancels every call in flight. A cancelled call completes with
// client_errc::cancelled, or with client_errc::outcome_unknown if a
// non-idempotent request had been written. Once cancelled, a call starts
// nothing new: no attempt, no connect, no backoff.
//
// Credentials: client_params::creds (long-lived keys), or a
// credential_provider (client_params::credentials_provider: CVM role, STS
// AssumeRole, TKE OIDC, the default chain; see credential_provider.hpp),
// fetched before the first call and refreshed in the background ahead of
// expiry. A call takes its credentials before it leases a connection, so a
// call waiting for a refresh holds no connection and no send token; only
// the first call (and calls after an expiry that no call saw coming) waits.
// Temporary credentials are sent as X-TC-Token. AuthFailure.TokenFailure
// forces one refresh and one retry of the call; AuthFailure.SignatureExpire
// makes the client learn its clock offset from the answer's Date header and
// retry once with a corrected timestamp (client_stats::clock_skew_seconds).
// Both retries are safe for creates: the service refused before acting.
//
// Errors: a cbs::error_code with cbs::diagnostics (error.hpp): thrown as
// cbs::error with the default token, in a cbs::result with cbs::as_result,
// passed to the handler (and a `diagnostics&`) with any other token.
// Non-200 HTTP answers come from something in front of the API (a gateway,
// proxy or firewall): 429 is client_errc::http_throttled, retried as a
// throttle (the action's limiter slows down); 5xx is client_errc::http_status,
// retried for idempotent actions and outcome_unknown for a written create;
// any other status (403, 407, 3xx...) is client_errc::http_rejected, not
// retried. Interim 1xx answers are skipped. Permanent TLS failures
// (certificate verification, protocol version) are not retried.
#pragma once

#include <cbs/actions.hpp>
#include <cbs/credential_provider.hpp>
#include <cbs/credentials.hpp>
#include <cbs/detail/async_ops.hpp>
#include <cbs/error.hpp>
#include <cbs/pool_params.hpp>
#include <cbs/result.hpp>
#include <cbs/retry_policy.hpp>
#include <cbs/shared_limiter.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace cbs {

/// Everything a client needs. Validated by the client's constructor.
class rate_limit_group;

struct client_params {
    /// Region sent as X-TC-Region. Default "ap-guangzhou".
    std::string region = "ap-guangzhou";

    /// Endpoint URL, https://host[:port]. Default the nearest-region
    /// endpoint "https://cbs.tencentcloudapi.com". The Host header and the
    /// signed host are this URL's host (and port when not 443).
    std::string endpoint = "https://cbs.tencentcloudapi.com";

    /// Credentials (see resolve_credentials()). Required unless
    /// credentials_provider is set or unsigned_requests: SecretId and
    /// SecretKey; a token makes them temporary (sent as X-TC-Token).
    credentials creds;

    /// Where credentials come from, when set: used instead of `creds` (which
    /// is then ignored). Fetched before the first call (that call waits) and
    /// refreshed ahead of expiry as credential_cache says. May be shared by
    /// clients of one execution context. Default none: `creds`.
    std::shared_ptr<credential_provider> credentials_provider;

    /// Refresh margin, expiry guard and failure backoff of the credentials
    /// (see credential_cache_params for the rule and each default).
    credential_cache_params credential_cache;

    /// Send requests unsigned: `Authorization: SKIP` and no X-TC-Token; no
    /// credentials are needed or fetched. Only for the few actions the
    /// service takes unsigned (STS AssumeRoleWithWebIdentity, which the TKE
    /// OIDC provider calls). Default false.
    bool unsigned_requests = false;

    /// API version sent as X-TC-Version. Default "2017-03-12" (CBS).
    std::string version = "2017-03-12";

    /// Service name of the signature's credential scope. Default "cbs".
    std::string service = "cbs";

    /// Content-Type sent and signed. Default "application/json; charset=utf-8".
    std::string content_type = "application/json; charset=utf-8";

    /// X-TC-Language ("zh-CN" or "en-US"). Default empty: not sent.
    std::string language;

    /// Also sign X-TC-Action (as the current signature doc's example does).
    /// Default false: sign content-type;host like the official SDKs.
    bool sign_action = false;

    /// Connection pool and TLS settings.
    pool_params pool;

    /// Serialise the client's work on an internal strand of the executor
    /// given to the constructor, so calls may come from any threads running
    /// its execution context. Default true. false: no strand (fewer calls
    /// per second lost to it on one thread, see bench/README.md); every
    /// call, stats() included, must then come from one thread at a time,
    /// e.g. coroutines on a single-threaded io_context, and the executor
    /// given should be that context's.
    bool thread_safe = true;

    /// Timeout of one attempt's exchange (write request + read response).
    /// Default 30 s.
    std::chrono::milliseconds request_timeout{30'000};

    /// Largest request body accepted (the service's TC3 POST limit). Default 10 MiB.
    std::size_t max_request_body = 10u << 20;

    /// Retry classes, backoff, attempts, per-call deadline and the shared
    /// retry budget (see retry_policy.hpp for each default).
    retry_params retry;

    /// Pace each action with its own token-bucket limiter. Default true:
    /// 0.95 x the documented rate (19/s for the snapshot-group family, 95/s
    /// for DescribeDisks, 9.5/s otherwise). Every write takes a token (retries
    /// and the resend after a stale kept-alive connection too), and takes it
    /// while already holding the connection it will write on, so the spacing
    /// the limiter grants is the spacing on the wire whatever the latency,
    /// pool size and concurrency (see detail/call_fsm.hpp).
    bool rate_limit = true;

    /// Per-action rate overrides in requests per second, e.g.
    /// {{"CreateSnapshotGroup", 10}}. Default empty. Must be empty when
    /// shared_limits is set (the group's own overrides apply).
    std::map<std::string, double, std::less<>> rate_overrides;

    /// Limiters shared with other clients (make_rate_limit_group), e.g. one
    /// client per region of one account, so an action's rate holds across
    /// all of them together. Default null: the client's own limiters.
    std::shared_ptr<rate_limit_group> shared_limits;

    /// Share each action's limit with other processes through Redis
    /// (shared_limiter.hpp): set shared_limiter.url. Default: url empty, each
    /// client paces itself. Must be unset with shared_limits (give it to
    /// make_rate_limit_group). A build without hiredis refuses a url
    /// (client_errc::invalid_config).
    shared_limiter_params shared_limiter;

    /// Seed of the backoff jitter. Default 0: seeded from std::random_device.
    std::uint64_t jitter_seed = 0;

    /// Called on the client's strand (the calling coroutine's thread when not
    /// thread_safe) for each retry decided (action, class of
    /// the failure, delay before the next attempt, attempt number that
    /// failed). For metrics and logs; must not block. Default none.
    std::function<void(std::string_view action, error_class cls, std::chrono::nanoseconds delay, unsigned attempt)>
        on_retry;

    /// Source of X-TC-Timestamp (unix seconds). Default: the system clock.
    /// Injectable for reproducible signatures and clock-skew tests. The
    /// client adds the clock offset it learns from an
    /// AuthFailure.SignatureExpire answer's Date header to every later
    /// timestamp (and to the time credential expiry is judged by).
    std::function<std::int64_t()> unix_time;

    /// On AuthFailure.SignatureExpire, learn the offset between the local
    /// clock and the server's from the answer's Date header, and send the
    /// call once more with a corrected timestamp (the service refused before
    /// acting, so this is safe for creates too); every later timestamp is
    /// corrected as well (client_stats::clock_skew_seconds). Default true.
    /// false: SignatureExpire is final, as in the official SDKs.
    bool correct_clock_skew = true;

    /// Parameters from the environment, the same variables cbsctl reads:
    ///   CBS_REGION, else TENCENTCLOUD_REGION       region (default ap-guangzhou)
    ///   CBS_ENDPOINT                               endpoint (default https://cbs.tencentcloudapi.com)
    ///   CBS_CA_FILE                                pool.ca_file (default: the system store)
    ///   https_proxy, else HTTPS_PROXY, unless no_proxy / NO_PROXY exempts
    ///   the endpoint's host                        pool.proxy (proxy_from_env, proxy.hpp)
    /// and credentials_provider = the default credential chain
    /// (make_default_credential_chain: TENCENTCLOUD_SECRET_ID / _SECRET_KEY /
    /// _SESSION_TOKEN, TENCENTCLOUD_CREDENTIALS_FILE or
    /// ~/.tencentcloud/credentials with its role, TKE_* for TKE OIDC,
    /// CBS_METADATA_ENDPOINT for the CVM role, CBS_STS_ENDPOINT for STS; the
    /// STS calls use the same CA file, and the proxy chosen for the STS host;
    /// the metadata service is never reached through a proxy). Nothing is read from the
    /// network or the credentials file here: the chain runs on the first
    /// call. So the lines `cbsctl emulator` prints are enough to run the
    /// README example against the emulator. `getenv` (default std::getenv)
    /// is for tests.
    static client_params from_env(const getenv_function& getenv = {});
};

/// Per-call options.
struct call_options {
    /// Overrides client_params::request_timeout for this call (0: no override).
    std::chrono::milliseconds request_timeout{0};
    /// Overrides client_params::retry.deadline for this call (0: no override):
    /// bounds the wait for a pooled connection and for a limiter token
    /// (client_errc::deadline_exceeded), and no retry is scheduled past it.
    /// Negative: client_errc::invalid_request. Larger than the clock can
    /// represent: no deadline (saturated, never an overflow).
    std::chrono::milliseconds deadline{0};
    /// Called on the client's strand before each retry of this call (class of
    /// the failure, delay, attempt number that failed), after
    /// client_params::on_retry. Default none.
    std::function<void(error_class cls, std::chrono::nanoseconds delay, unsigned attempt)> on_retry;
};

/// The per-action limiters several clients share (client_params::
/// shared_limits). Not synchronised: every client sharing a group must run
/// its calls on one thread at a time (e.g. one single-threaded io_context)
/// and on the executor the group was made with.
class rate_limit_group;

/// A group of limiters on `ex`: each action's limiter is created on first use
/// at default_limiter_params(action), or at `rate_overrides` (requests per
/// second, each > 0; throws cbs::error client_errc::invalid_config naming a
/// bad one). Clients given the group pace each action together.
/// With `shared.url` set, the group's limits are shared with other processes
/// through Redis (shared_limiter.hpp); a bad URL throws cbs::error
/// client_errc::invalid_config naming what is wrong.
std::shared_ptr<rate_limit_group> make_rate_limit_group(boost::asio::any_io_executor ex,
                                                        std::map<std::string, double, std::less<>> rate_overrides = {},
                                                        const shared_limiter_params& shared = {});

/// Counters for metrics and tests. Read from any thread is not safe; call
/// from the client's strand or when no call is in flight.
struct client_stats {
    std::uint64_t calls = 0;     ///< calls started
    std::uint64_t attempts = 0;  ///< HTTP exchanges attempted
    std::uint64_t connections_opened = 0;
    std::uint64_t connection_reuses = 0;
    std::uint64_t stale_retries = 0;         ///< retried on a fresh connection after a reused one failed
    std::uint64_t retries = 0;               ///< retries decided by the retry policy
    std::uint64_t throttled = 0;             ///< RequestLimitExceeded answers
    std::uint64_t outcome_unknown = 0;       ///< calls ended as client_errc::outcome_unknown
    int retry_budget = 0;                    ///< tokens left in the shared retry budget
    std::uint64_t credential_fetches = 0;    ///< credential fetches started (the first one included)
    std::uint64_t credential_refreshes = 0;  ///< fetches that replaced earlier credentials
    std::uint64_t credential_failures = 0;   ///< credential fetches that failed
    std::uint64_t token_retries = 0;         ///< calls retried after AuthFailure.TokenFailure
    std::uint64_t clock_corrections = 0;     ///< clock offsets learnt from AuthFailure.SignatureExpire answers
    std::int64_t clock_skew_seconds = 0;     ///< server time - local time, as learnt (0: none seen)
    std::string credential_source;           ///< where the current credentials came from ("" before any)
    std::size_t open_connections = 0;
    std::size_t idle_connections = 0;
    std::string limiter = "local";              ///< "local", or the shared limiter's URL (password hidden)
    bool limiter_fallback = false;              ///< the shared limiter paces on its local fallback now
    std::uint64_t limiter_fallbacks = 0;        ///< times it fell back (Redis lost or not reached)
    std::uint64_t limiter_shared_grants = 0;    ///< sends granted by the shared state in Redis
    std::uint64_t limiter_fallback_grants = 0;  ///< sends granted by the fallback
};

namespace detail {
/// One call as the I/O pipeline takes it.
struct call_input {
    std::string action;
    boost::json::object body;
    call_options opts;
    error_code rejected;        ///< set: the request failed validation; send nothing, complete with this
    diagnostics rejected_diag;  ///< why it failed
};
}  // namespace detail

/// A client of one endpoint (one region), with its own connection pool,
/// credentials and limiters.
///
/// Operations. Every async operation takes a completion token last, with
/// `boost::asio::use_awaitable` as the default, and completes with
/// `void(cbs::error_code, T)`:
///   - default token: `co_await` gives T and throws cbs::error on failure
///     (a boost::system::system_error that also carries the diagnostics);
///   - cbs::as_result: `co_await` gives cbs::result<T> and never throws;
///   - any other Asio token: a callback, use_future, deferred, as_tuple,
///     experimental::use_promise, ... Diagnostics reach such callers through
///     the overload taking a `diagnostics&` (filled before the handler runs).
/// The rules below hold for every operation of the class; each operation
/// adds its own preconditions and errors.
///   - Preconditions: none beyond those stated per operation. Arguments are
///     taken by value (moved in): the caller need keep nothing alive. A
///     `diagnostics&` passed must stay valid until the handler is invoked.
///   - Lifetime: the client must outlive every call in flight (moving the
///     client is fine: calls follow the moved-to object). To stop early,
///     cancel() and wait for the handlers before destroying the client.
///   - Executor: the handler runs on its associated executor, by default
///     get_executor() (the executor given to the constructor). The I/O runs
///     on a strand of that executor (client_params::thread_safe) or on it.
///   - Cancellation: per-operation cancellation through the handler's
///     associated cancellation slot, terminal type (e.g.
///     `bind_cancellation_slot`, or awaitable_operators `||`), and
///     client-wide through cancel(). A cancelled call completes with
///     client_errc::cancelled, or client_errc::outcome_unknown when a request
///     that is not idempotent had been written; it starts nothing new.
///   - Thread-safety: with client_params::thread_safe (the default), calls
///     may be started from any thread, concurrently; otherwise from one
///     thread at a time. cancel() may be called from any thread in both modes.
class client {
public:
    /// The executor given to the constructor: the default executor of
    /// every completion handler.
    using executor_type = boost::asio::any_io_executor;

    /// Throws cbs::error: client_errc::invalid_config naming the bad field
    /// (endpoint, region, missing credentials, unreadable CA file, ...).
    client(executor_type ex, client_params params);
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;
    /// Moving is allowed with calls in flight (they keep running on the
    /// moved-to client). The moved-from client may only be destroyed or
    /// assigned to. Move-assigning onto a client with calls in flight is
    /// undefined behaviour, as destroying it would be.
    client(client&&) noexcept;
    client& operator=(client&&) noexcept;

    executor_type get_executor() const noexcept;

    /// Any action of the service: POSTs `body` as JSON with `X-TC-Action:
    /// action` and completes with the `Response` object (RequestId included).
    /// Signature: void(cbs::error_code, boost::json::object).
    /// Errors: client_errc::invalid_request (bad action name, body over
    /// client_params::max_request_body; nothing sent), the service's codes
    /// (api_errc, diagnostics::server_code verbatim), transport and timeout
    /// errors after the retries the action's class allows (error.hpp),
    /// client_errc::outcome_unknown for a request that is not idempotent and
    /// may have been carried out, client_errc::deadline_exceeded, cancelled.
    template <class CompletionToken = boost::asio::use_awaitable_t<>>
    auto async_call(std::string action, boost::json::object body, call_options opts, diagnostics& diag,
                    CompletionToken&& token = {}) {
        return call_(std::move(action), std::move(body), std::move(opts), &diag, std::forward<CompletionToken>(token));
    }
    /// As above, without a diagnostics object (the default token and
    /// cbs::as_result still give them).
    template <class CompletionToken = boost::asio::use_awaitable_t<>>
    auto async_call(std::string action, boost::json::object body, call_options opts = {},
                    CompletionToken&& token = {}) {
        return call_(std::move(action), std::move(body), std::move(opts), nullptr,
                     std::forward<CompletionToken>(token));
    }
    /// As above with default call_options: `c.async_call(a, b, token)`.
    template <detail::token_for<void(error_code, boost::json::object)> CompletionToken>
    auto async_call(std::string action, boost::json::object body, CompletionToken&& token) {
        return async_call(std::move(action), std::move(body), call_options{}, std::forward<CompletionToken>(token));
    }

    /// Any typed action: `Request` has `static constexpr std::string_view
    /// action`, `using response_type`, and ADL-found `validate(req, diag)`,
    /// `to_json(req)` and `from_json(json_object, response_type&, diag)`
    /// (see actions.hpp and describe_actions.hpp).
    /// Signature: void(cbs::error_code, typename Request::response_type).
    /// Errors: as async_call; a request that fails validate() completes with
    /// its error (client_errc::invalid_request) and sends nothing; an answer
    /// that from_json cannot read is client_errc::bad_response, or
    /// outcome_unknown for an action that is not idempotent.
    template <class Request, class CompletionToken = boost::asio::use_awaitable_t<>>
    auto async_invoke(Request req, call_options opts, diagnostics& diag, CompletionToken&& token = {}) {
        return invoke_(std::move(req), std::move(opts), &diag, std::forward<CompletionToken>(token));
    }
    /// As above, without a diagnostics object.
    template <class Request, class CompletionToken = boost::asio::use_awaitable_t<>>
    auto async_invoke(Request req, call_options opts = {}, CompletionToken&& token = {}) {
        return invoke_(std::move(req), std::move(opts), nullptr, std::forward<CompletionToken>(token));
    }
    /// As above with default call_options.
    template <class Request, detail::token_for<void(error_code, typename Request::response_type)> CompletionToken>
    auto async_invoke(Request req, CompletionToken&& token) {
        return async_invoke(std::move(req), call_options{}, std::forward<CompletionToken>(token));
    }

    /// CreateSnapshotGroup: one group of snapshots over `req.disk_ids`, taken
    /// together. Not idempotent: after an answer lost in transit the call
    /// completes with client_errc::outcome_unknown, never a second create;
    /// find the group by its name (DescribeSnapshotGroups) before sending
    /// again. Empty, duplicate or malformed DiskIds: invalid_request, nothing
    /// sent. Paced at 19/s by default (the service allows 20/s per account).
    /// Signature: void(cbs::error_code, cbs::create_snapshot_group_response).
    template <class CompletionToken = boost::asio::use_awaitable_t<>>
    auto async_create_snapshot_group(create_snapshot_group_request req, call_options opts, diagnostics& diag,
                                     CompletionToken&& token = {}) {
        return invoke_(std::move(req), std::move(opts), &diag, std::forward<CompletionToken>(token));
    }
    template <class CompletionToken = boost::asio::use_awaitable_t<>>
    auto async_create_snapshot_group(create_snapshot_group_request req, call_options opts = {},
                                     CompletionToken&& token = {}) {
        return invoke_(std::move(req), std::move(opts), nullptr, std::forward<CompletionToken>(token));
    }
    template <detail::token_for<void(error_code, create_snapshot_group_response)> CompletionToken>
    auto async_create_snapshot_group(create_snapshot_group_request req, CompletionToken&& token) {
        return invoke_(std::move(req), call_options{}, nullptr, std::forward<CompletionToken>(token));
    }

    /// Cancels every call in flight: each completes with
    /// client_errc::cancelled (or outcome_unknown, as for per-operation
    /// cancellation). Calls started afterwards are not affected. Returns at
    /// once; the handlers run later. Thread-safe.
    void cancel();

    /// The exact bytes of the HTTP request that a call would send at
    /// `timestamp` (request line, headers, blank line, body). Connects to
    /// nothing. For `cbsctl call --dry-run` and debugging.
    std::string render_request(std::string_view action, const boost::json::object& body, std::int64_t timestamp) const;

    client_stats stats() const;

    const client_params& params() const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;

    /// Starts one call: the I/O pipeline of client.cpp, compiled once.
    /// Completes `handler` with the Response object, after filling `*diag`
    /// (if not null). A call `in.rejected` sends nothing and completes with
    /// that error. Any thread (see the class comment).
    static void start_call_(impl* p, detail::call_input in, diagnostics* diag, detail::json_handler handler);

    struct json_initiation {
        impl* p;
        template <class Handler>
        // `in` is moved into start_call_ (clang-tidy sees only a const use).
        // NOLINTNEXTLINE(performance-unnecessary-value-param)
        void operator()(Handler&& h, diagnostics* diag, detail::call_input in) const {
            start_call_(p, std::move(in), diag, detail::erase_handler(std::forward<Handler>(h)));
        }
    };

    template <class Decode>
    struct decoding_initiation {
        impl* p;
        template <class Handler>
        // NOLINTNEXTLINE(performance-unnecessary-value-param): as above
        void operator()(Handler&& h, Decode decode, diagnostics* diag, detail::call_input in) const {
            using wrapped = detail::decoding_handler<Decode, std::decay_t<Handler>>;
            start_call_(p, std::move(in), diag,
                        detail::erase_handler(wrapped{std::move(decode), std::forward<Handler>(h), diag}));
        }
    };

    template <class Decode>
    static boost::asio::awaitable<result<typename Decode::value_type>> await_result_(impl* p, Decode decode,
                                                                                     diagnostics* user_diag,
                                                                                     detail::call_input in) {
        result<typename Decode::value_type> out;
        if (in.rejected) {
            out.ec = in.rejected;
            out.diag = std::move(in.rejected_diag);
        } else {
            auto tok = boost::asio::as_tuple(boost::asio::use_awaitable);
            auto op = boost::asio::async_initiate<decltype(tok), void(error_code, boost::json::object)>(
                json_initiation{p}, tok, &out.diag, std::move(in));
            auto [ec, answer] = co_await std::move(op);
            out.ec = ec;
            if (!ec) out.ec = decode(std::move(answer), out.value, out.diag);
        }
        if (user_diag) *user_diag = out.diag;
        co_return out;
    }

    /// await_result_ that throws, written out rather than co_awaiting it:
    /// one coroutine frame less per call on the default token.
    template <class Decode>
    static boost::asio::awaitable<typename Decode::value_type> await_value_(impl* p, Decode decode,
                                                                            diagnostics* user_diag,
                                                                            detail::call_input in) {
        if (in.rejected) {
            if (user_diag) *user_diag = in.rejected_diag;
            throw error(in.rejected, std::move(in.rejected_diag));
        }
        diagnostics diag;
        auto tok = boost::asio::as_tuple(boost::asio::use_awaitable);
        auto op = boost::asio::async_initiate<decltype(tok), void(error_code, boost::json::object)>(
            json_initiation{p}, tok, &diag, std::move(in));
        auto [ec, answer] = co_await std::move(op);
        typename Decode::value_type value{};
        if (!ec) ec = decode(std::move(answer), value, diag);
        if (user_diag) *user_diag = diag;
        if (ec) throw error(ec, std::move(diag));
        co_return value;
    }

    template <class Decode, class CompletionToken>
    static auto initiate_(impl* p, Decode decode, CompletionToken&& token, diagnostics* diag, detail::call_input in) {
        if constexpr (detail::is_as_result_v<CompletionToken>) {
            return await_result_(p, std::move(decode), diag, std::move(in));
        } else if constexpr (detail::is_use_awaitable_v<CompletionToken>) {
            return await_value_(p, std::move(decode), diag, std::move(in));
        } else if constexpr (std::is_same_v<Decode, detail::json_decoder>) {
            return boost::asio::async_initiate<CompletionToken, void(error_code, boost::json::object)>(
                json_initiation{p}, token, diag, std::move(in));
        } else {
            return boost::asio::async_initiate<CompletionToken, void(error_code, typename Decode::value_type)>(
                decoding_initiation<Decode>{p}, token, std::move(decode), diag, std::move(in));
        }
    }

    template <class CompletionToken>
    auto call_(std::string action, boost::json::object body, call_options opts, diagnostics* diag,
               CompletionToken&& token) {
        return initiate_(impl_.get(), detail::json_decoder{}, std::forward<CompletionToken>(token), diag,
                         detail::call_input{std::move(action), std::move(body), std::move(opts), {}, {}});
    }

    /// A typed call: validated first (a bad request is sent nowhere; its
    /// error still completes through the token), then sent as JSON.
    template <class Request, class CompletionToken>
    auto invoke_(Request req, call_options opts, diagnostics* diag, CompletionToken&& token) {
        detail::call_input in{std::string(Request::action), {}, std::move(opts), {}, {}};
        in.rejected = validate(req, in.rejected_diag);
        if (!in.rejected) in.body = to_json(req);
        return initiate_(impl_.get(), detail::response_decoder<Request>{}, std::forward<CompletionToken>(token), diag,
                         std::move(in));
    }
};

}  // namespace cbs
