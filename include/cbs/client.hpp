// cbs-async: the Tencent Cloud API 3.0 client for CBS.
//
// One `cbs::client` = one endpoint, one set of credentials, one connection
// pool. Calls are C++20 coroutines (`boost::asio::awaitable`).
//
//   cbs::client c(io.get_executor(), params);
//   auto rsp = co_await c.async_create_snapshot_group({.disk_ids = {"disk-12345678"}});
//
// Threading: by default (client_params::thread_safe) the client runs every
// call on an internal strand of the executor it was given, so it may be called
// concurrently from any number of coroutines on any threads of that execution
// context. With thread_safe = false there is no strand: calls run in the
// calling coroutine, and must all come from one thread at a time (a
// single-threaded io_context, or one strand). The client must outlive every
// call in flight (destroying it with calls pending is undefined behaviour);
// cancel calls first and let them finish.
//
// Cancellation: every operation supports Asio per-operation cancellation
// (terminal, e.g. via `awaitable_operators` `||` or `bind_cancellation_slot`);
// a cancelled call completes with client_errc::cancelled, or with
// client_errc::outcome_unknown if a non-idempotent request had been written
// (never with an exception: the throwing forms throw cbs::error). Once
// cancelled, a call starts nothing new: no attempt, no connect, no backoff.
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
// Errors: the throwing forms throw cbs::error (an error_code + diagnostics);
// the `std::nothrow` forms return them in a cbs::result. See error.hpp.
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
#include <cbs/error.hpp>
#include <cbs/pool_params.hpp>
#include <cbs/retry_policy.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <new>
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
    /// its execution context. Default true. false: no strand and no hop onto
    /// it per call (15-20% more calls per second on one thread at 8-64
    /// connections, see bench/README.md); every call, stats() included, must
    /// then come from one thread at a time, e.g. coroutines on a
    /// single-threaded io_context, and the executor given should be that
    /// context's.
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

/// The outcome of a call in non-throwing form.
template <class T>
struct result {
    error_code ec;     ///< {} on success
    diagnostics diag;  ///< attempts, RequestIds, and the error details if any
    T value{};         ///< valid only on success
    explicit operator bool() const noexcept { return !ec; }
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
std::shared_ptr<rate_limit_group> make_rate_limit_group(boost::asio::any_io_executor ex,
                                                        std::map<std::string, double, std::less<>> rate_overrides = {});

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
};

class client {
public:
    /// Throws cbs::error: client_errc::invalid_config naming the bad field
    /// (endpoint, region, missing credentials, unreadable CA file, ...).
    client(boost::asio::any_io_executor ex, client_params params);
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    /// Any action of the service: POSTs `body` as JSON with `X-TC-Action:
    /// action` and returns the `Response` object (RequestId included).
    /// Throws cbs::error on failure.
    boost::asio::awaitable<boost::json::object> async_call(std::string action, boost::json::object body,
                                                           call_options opts = {});
    boost::asio::awaitable<result<boost::json::object>> async_call(std::string action, boost::json::object body,
                                                                   std::nothrow_t, call_options opts = {});

    /// CreateSnapshotGroup. The request is validated first (empty, duplicate
    /// or malformed DiskIds: client_errc::invalid_request, nothing is sent).
    boost::asio::awaitable<create_snapshot_group_response> async_create_snapshot_group(
        create_snapshot_group_request req, call_options opts = {});
    boost::asio::awaitable<result<create_snapshot_group_response>> async_create_snapshot_group(
        create_snapshot_group_request req, std::nothrow_t, call_options opts = {});

    /// Any typed action: `Request` has `static constexpr std::string_view
    /// action`, `using response_type`, and ADL-found `validate(req, diag)`,
    /// `to_json(req)` and `from_json(json_object, response_type&, diag)`
    /// (see actions.hpp). Validation failures send nothing.
    template <class Request>
    boost::asio::awaitable<result<typename Request::response_type>> async_invoke(Request req, std::nothrow_t,
                                                                                 call_options opts = {}) {
        result<typename Request::response_type> out;
        if ((out.ec = validate(req, out.diag))) co_return out;
        auto r = co_await async_call(std::string(Request::action), to_json(req), std::nothrow, opts);
        out.diag = std::move(r.diag);
        if ((out.ec = r.ec)) co_return out;
        out.ec = from_json(r.value, out.value, out.diag);
        if (out.ec && !is_idempotent(Request::action)) {
            // The service answered success, but not in a form we can read:
            // whatever it did, it did; the caller must reconcile.
            out.diag.client_message +=
                "; the service answered success, so it may have been carried out: "
                "reconcile before sending it again";
            out.ec = client_errc::outcome_unknown;
        }
        co_return out;
    }

    /// Throwing form of async_invoke: cbs::error on failure.
    template <class Request>
    boost::asio::awaitable<typename Request::response_type> async_invoke(Request req, call_options opts = {}) {
        auto r = co_await async_invoke(std::move(req), std::nothrow, opts);
        if (r.ec) throw error(r.ec, std::move(r.diag));
        co_return std::move(r.value);
    }

    /// The exact bytes of the HTTP request that a call would send at
    /// `timestamp` (request line, headers, blank line, body). Connects to
    /// nothing. For `cbsctl call --dry-run` and debugging.
    std::string render_request(std::string_view action, const boost::json::object& body, std::int64_t timestamp) const;

    client_stats stats() const;

    const client_params& params() const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace cbs
