// The call pipeline: validate → credentials → lease → (limiter token) → sign
// → write and read → classify → (retry). The decisions are detail::call_fsm's
// (and detail::credential_cache_core's for the credentials); this file does
// the I/O.
#include <cbs/client.hpp>
#include <cbs/detail/async_rate_limiter.hpp>

#include <cbs/detail/call_fsm.hpp>
#include <cbs/detail/client_request.hpp>
#include <cbs/detail/connection_pool.hpp>
#include <cbs/detail/credential_cache.hpp>
#include <cbs/endpoint.hpp>
#include <cbs/tc3_signer.hpp>
#include "rate_limit_group.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/recycling_allocator.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <optional>
#include <random>

namespace cbs {

namespace asio = boost::asio;

namespace {

/// A header value must not let a caller inject another header.
bool has_ctl(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

[[noreturn]] void config_error(error_code ec, std::string what) {
    diagnostics diag;
    diag.client_message = std::move(what);
    throw error(ec, std::move(diag));
}

endpoint checked_endpoint(const client_params& p) {
    endpoint ep;
    std::string why;
    if (!parse_endpoint(p.endpoint, ep, why)) config_error(client_errc::invalid_config, why);
    if (ep.scheme != "https")
        config_error(client_errc::plain_http_refused,
                     "endpoint '" + p.endpoint + "' is not https: API calls carry credentials and need TLS");
    if (p.region.empty() || !std::all_of(p.region.begin(), p.region.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        }))
        config_error(client_errc::invalid_config, "region '" + p.region + "' is not a region name like ap-guangzhou");
    const bool own_creds = !p.credentials_provider && !p.unsigned_requests;
    if (own_creds && (p.creds.secret_id.empty() || p.creds.secret_key.empty()))
        config_error(client_errc::credentials_missing,
                     "client_params.creds needs both a SecretId and a SecretKey (see resolve_credentials), or set "
                     "client_params.credentials_provider");
    if (has_ctl(p.creds.secret_id) || has_ctl(p.creds.token) || has_ctl(p.language) || has_ctl(p.version) ||
        has_ctl(p.content_type))
        config_error(client_errc::invalid_config, "a credential or header value contains control characters");
    if (p.request_timeout.count() <= 0) config_error(client_errc::invalid_config, "request_timeout must be positive");
    if (p.pool.max_size == 0) config_error(client_errc::invalid_config, "pool.max_size must be at least 1");
    if (p.shared_limits && !p.rate_overrides.empty())
        config_error(client_errc::invalid_config,
                     "rate_overrides must be empty with shared_limits (give them to make_rate_limit_group)");
    if (p.shared_limits && !p.shared_limiter.url.empty())
        config_error(client_errc::invalid_config,
                     "shared_limiter must be unset with shared_limits (give it to make_rate_limit_group)");
    const auto& cc = p.credential_cache;
    if (cc.refresh_margin.count() < 0 || cc.expiry_guard.count() < 0 || !(cc.max_margin_fraction > 0) ||
        !(cc.max_margin_fraction < 1) || cc.retry_backoff_min.count() <= 0 ||
        cc.retry_backoff_max < cc.retry_backoff_min)
        config_error(client_errc::invalid_config,
                     "credential_cache: margins must not be negative, max_margin_fraction in (0, 1), backoffs "
                     "positive with min <= max");
    return ep;
}

/// True once the call's cancellation slot has been signalled. `state` is
/// the calling coroutine's (a handle: it sees later cancellations).
bool cancel_requested(const asio::cancellation_state& state) {
    return state.cancelled() != asio::cancellation_type::none;
}

std::int64_t system_unix_time() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

struct client::impl {
    impl(asio::any_io_executor ex, client_params p)
        : user_exec_(ex),
          exec_(p.thread_safe ? asio::any_io_executor(asio::make_strand(ex)) : std::move(ex)),
          params_(std::move(p)),
          ep_(checked_endpoint(params_)),
          host_(ep_.host_header()),
          pool_(exec_, ep_, params_.pool),
          budget_(params_.retry),
          uniform_(make_uniform_source(params_.jitter_seed ? params_.jitter_seed : std::random_device{}())),
          limits_(params_.shared_limits ? params_.shared_limits : own_limits(exec_, params_)) {
        if (params_.unsigned_requests) return;
        creds_.emplace(
            exec_, params_.credentials_provider ? params_.credentials_provider : make_static_provider(params_.creds),
            params_.credential_cache, [this] { return wall_now(); });
        // Keys given up front need no fetch: calls with them never wait here
        // (and keep the order they came in).
        if (!params_.credentials_provider) creds_->seed(params_.creds);
    }

    using limiter = detail::action_limiter;

    /// The client's own limiters; shared through Redis when
    /// shared_limiter.url is set, keyed by its account and region.
    static std::shared_ptr<rate_limit_group> own_limits(const asio::any_io_executor& ex, const client_params& p) {
        auto shared = p.shared_limiter;
        if (!shared.url.empty()) {
            if (shared.region.empty()) shared.region = p.region;
            if (shared.account.empty() && !p.credentials_provider && !p.creds.secret_id.empty())
                shared.account = detail::sha256_hex(p.creds.secret_id).substr(0, 16);
        }
        return make_rate_limit_group(ex, p.rate_overrides, shared);
    }

    /// The limiter of `action` (the client's own group, or the shared one).
    limiter& limiter_for(const std::string& action) { return limits_->for_action(action); }

    /// The local clock (params.unix_time or the system clock), in unix seconds.
    std::int64_t local_unix_time() const { return params_.unix_time ? params_.unix_time() : system_unix_time(); }
    /// The service's clock as far as the client knows it: the local clock
    /// plus the offset learnt from a SignatureExpire answer. Timestamps and
    /// credential expiry both go by it.
    std::int64_t now() const { return local_unix_time() + skew_; }
    std::chrono::system_clock::time_point wall_now() const {
        const auto local = params_.unix_time
                               ? std::chrono::system_clock::time_point(std::chrono::seconds(params_.unix_time()))
                               : std::chrono::system_clock::now();
        return local + std::chrono::seconds(skew_);
    }

    /// An AuthFailure.SignatureExpire answer: learn the offset from its Date
    /// header. True when there is one to learn (the call is then retried once
    /// with a corrected timestamp).
    bool learn_clock_skew(std::string_view date) {
        const auto server = detail::parse_http_date(date);
        if (!server) return false;
        skew_ = *server - local_unix_time();
        ++clock_corrections_;
        return true;
    }

    std::string build(std::string_view action, std::string_view payload, std::int64_t ts, tc3_signer& signer,
                      const credentials* c) const {
        return detail::build_request(params_, host_, action, payload, ts, signer, c);
    }

    /// The call's deadline: start + d, saturated (a huge deadline means
    /// "no deadline", never an overflow into the past).
    static std::chrono::steady_clock::time_point deadline_after(std::chrono::steady_clock::time_point start,
                                                                std::chrono::milliseconds d) {
        using steady = std::chrono::steady_clock;
        const auto room = std::chrono::duration_cast<std::chrono::milliseconds>(steady::time_point::max() - start);
        return d >= room ? steady::time_point::max() : start + d;
    }

    /// Drives detail::call_fsm (the decisions) with real I/O: lease a
    /// connection, take a token, write, back off. See call_fsm.hpp for why
    /// the order is lease -> token -> write.
    asio::awaitable<result<boost::json::object>> run(std::string action, std::string payload, call_options opts) {
        // Errors, not exceptions: with Asio's default, every co_await after a
        // cancellation would throw, even one that must still run (the
        // connect a pool waiter was just handed). Cancellation is checked
        // explicitly below before anything new is started.
        co_await asio::this_coro::throw_if_cancelled(false);
        const auto cancel = co_await asio::this_coro::cancellation_state;
        using steady = std::chrono::steady_clock;
        result<boost::json::object> out;
        ++calls_;
        if ((out.ec = detail::check_call_input(params_, action, payload, opts, out.diag))) co_return out;
        const bool idempotent = is_idempotent(action);
        const auto timeout = opts.request_timeout.count() > 0 ? opts.request_timeout : params_.request_timeout;
        const auto start = steady::now();
        const auto deadline =
            deadline_after(start, opts.deadline.count() > 0
                                      ? opts.deadline
                                      : std::chrono::duration_cast<std::chrono::milliseconds>(params_.retry.deadline));
        limiter* lim = params_.rate_limit ? &limiter_for(action) : nullptr;
        detail::call_fsm fsm(params_.retry, idempotent, lim != nullptr, start, deadline);
        detail::pooled_connection lease;
        std::optional<asio::steady_timer> backoff;
        std::uint64_t signed_generation = 0;  // of the credentials the last request was signed with

        for (auto act = fsm.start();;) {
            switch (act.step) {
                case detail::call_step::credentials: {
                    // Before the lease: a wait for a refresh holds no
                    // connection and no token.
                    if (act.new_attempt) {
                        ++out.diag.attempts;
                        ++attempts_;
                    }
                    if (act.force_refresh) {
                        ++token_retries_;
                        if (creds_) creds_->force_refresh(signed_generation);
                    }
                    error_code ec;
                    diagnostics cdiag;
                    if (cancel_requested(cancel))
                        ec = client_errc::cancelled;
                    else if (creds_)
                        ec = co_await creds_->async_ensure(deadline, cdiag);
                    if (ec) {
                        if (act.new_attempt) {  // nothing sent: this was not an attempt after all
                            --out.diag.attempts;
                            --attempts_;
                        }
                        out.ec = ec;
                        out.diag.server_code = cdiag.server_code;
                        out.diag.server_message = cdiag.server_message;
                        out.diag.client_message =
                            cdiag.client_message.empty() ? "getting credentials for " + action : cdiag.client_message;
                    }
                    act = fsm.on_credentials(ec, cdiag.server_code, steady::now(), budget_, uniform_);
                    break;
                }
                case detail::call_step::lease: {
                    if (act.fresh_only) ++stale_retries_;
                    error_code ec;
                    if (cancel_requested(cancel)) {
                        ec = client_errc::cancelled;
                    } else {
                        lease = co_await pool_.async_lease(ec, out.diag, act.fresh_only, deadline);
                        // Cancelled as the connection came: send nothing.
                        if (!ec && cancel_requested(cancel)) {
                            lease.release(true);
                            ec = client_errc::cancelled;
                        }
                    }
                    if (ec) {
                        out.ec = ec;
                        if (ec == client_errc::cancelled && out.diag.client_message.empty())
                            out.diag.client_message = "cancelled before " + action + " was sent";
                    }
                    act = fsm.on_leased(ec, steady::now(), budget_, uniform_);
                    break;
                }
                case detail::call_step::acquire_token: {
                    // Holding the connection: the token's time is the write's time.
                    auto ec = co_await lim->async_acquire(deadline);
                    if (ec) {
                        lease.release(true);  // nothing was written on it
                        // No token, nothing sent: this was not an attempt after all.
                        --out.diag.attempts;
                        --attempts_;
                        out.ec = ec;
                        out.diag.client_message =
                            std::string(ec == client_errc::deadline_exceeded ? "deadline passed" : "cancelled") +
                            " while waiting for the " + action + " rate limiter";
                    }
                    act = fsm.on_token(ec);
                    break;
                }
                case detail::call_step::write: {
                    const credentials* c = nullptr;
                    if (creds_) {
                        c = creds_->usable(signed_generation);
                        if (!c) {
                            // They lapsed during the lease or limiter wait:
                            // wait for the refresh holding nothing.
                            lease.release(true);
                            act = fsm.on_credentials_lapsed();
                            break;
                        }
                    }
                    const auto req = build(action, payload, now(), signer_, c);
                    co_await lease->async_exchange(req, timeout, params_.pool.max_response_body);
                    // The connection's: read before the connection goes back
                    // to the pool (below, with nothing awaited in between).
                    const auto& r = lease->last_exchange();
                    const bool reused = lease.reused();
                    out.ec = {};
                    out.diag.server_code.clear();
                    out.diag.server_message.clear();
                    out.diag.client_message.clear();
                    detail::conclude_exchange(r, ep_, action, out);
                    detail::exchange_outcome outcome{out.ec, out.diag.server_code, r.written, reused,
                                                     r.got_response_bytes};
                    if (params_.correct_clock_skew && out.diag.server_code == "AuthFailure.SignatureExpire")
                        outcome.clock_corrected = learn_clock_skew(r.date);
                    lease.release(!r.ec && r.reusable);
                    act = fsm.on_exchanged(outcome, steady::now(), budget_, uniform_);
                    if (act.step == detail::call_step::credentials) {
                        // A refusal retried at once (TokenFailure, SignatureExpire):
                        // the next attempt reports afresh.
                        out.ec = {};
                        out.diag.server_code.clear();
                        out.diag.server_message.clear();
                        out.diag.client_message.clear();
                    }
                    if (act.slow_limiter) {
                        ++throttled_;
                        if (lim) lim->on_throttled();
                    }
                    if (act.end == detail::call_end::ok && lim) lim->on_success();
                    break;
                }
                case detail::call_step::backoff: {
                    ++retries_;
                    if (params_.on_retry) params_.on_retry(action, act.retry_class, act.delay, out.diag.attempts);
                    if (opts.on_retry) opts.on_retry(act.retry_class, act.delay, out.diag.attempts);
                    if (!backoff) backoff.emplace(exec_);
                    backoff->expires_after(act.delay);
                    auto [tec] = co_await backoff->async_wait(asio::as_tuple(asio::use_awaitable));
                    const bool cancelled = tec || cancel_requested(cancel);
                    if (cancelled) {
                        out.diag.client_message = "cancelled during the backoff after " + describe(out) + " (attempt " +
                                                  std::to_string(out.diag.attempts) + ")";
                        out.ec = client_errc::cancelled;
                    } else {
                        // The next attempt reports afresh; RequestIds and attempts accumulate.
                        out.ec = {};
                        out.diag.server_code.clear();
                        out.diag.server_message.clear();
                        out.diag.client_message.clear();
                    }
                    act = fsm.on_backoff_done(cancelled);
                    break;
                }
                case detail::call_step::done:
                    switch (act.end) {
                        case detail::call_end::outcome_unknown:
                            set_outcome_unknown(out);
                            break;
                        case detail::call_end::gave_up:
                            out.diag.client_message += (out.diag.client_message.empty() ? "" : "; ") +
                                                       std::string("gave up retrying: ") +
                                                       std::string(to_string(act.reason));
                            break;
                        case detail::call_end::cancelled:
                            out.ec = client_errc::cancelled;
                            break;
                        default:
                            break;
                    }
                    co_return out;
            }
        }
    }

    /// One call in flight, listed for cancel(): its coroutine's cancellation
    /// slot is bound to `signal`.
    struct call_entry : std::enable_shared_from_this<call_entry> {
        asio::cancellation_signal signal;
        call_entry* prev = nullptr;
        call_entry* next = nullptr;
    };

    void link(call_entry* e) {
        std::lock_guard lock(in_flight_mu_);
        e->next = in_flight_;
        if (in_flight_) in_flight_->prev = e;
        in_flight_ = e;
    }
    void unlink(call_entry* e) {
        std::lock_guard lock(in_flight_mu_);
        (e->prev ? e->prev->next : in_flight_) = e->next;
        if (e->next) e->next->prev = e->prev;
    }

    /// Starts a call from any thread: the call's coroutine runs on exec_, and
    /// its completion on the handler's executor (default user_exec_).
    void start(detail::call_input in, diagnostics* diag, detail::json_handler h) {
        auto hex = asio::get_associated_executor(h, user_exec_);
        if (in.rejected) {
            // Nothing to send. Complete as an operation does: never inside
            // the initiating function.
            if (diag) *diag = std::move(in.rejected_diag);
            asio::post(exec_, asio::bind_executor(hex, [h = std::move(h), ec = in.rejected]() mutable {
                           std::move(h)(ec, boost::json::object{});
                       }));
            return;
        }
        // From Asio's per-thread cache of freed blocks, not operator new.
        auto call = std::allocate_shared<call_entry>(asio::recycling_allocator<call_entry>());
        link(call.get());
        // The caller's cancellation, and cancel(), reach the call through
        // call->signal, always emitted on exec_: co_spawn's own forwarding
        // would post a raw pointer to the signal, which must not outlive
        // the call.
        auto slot = h.get_cancellation_slot();
        if (slot.is_connected())
            slot.assign([call, ex = exec_](asio::cancellation_type t) {
                asio::dispatch(ex, [call, t] { call->signal.emit(t); });
            });
        auto payload = boost::json::serialize(in.body);
        asio::co_spawn(exec_, run(std::move(in.action), std::move(payload), std::move(in.opts)),
                       asio::bind_cancellation_slot(
                           call->signal.slot(), asio::bind_executor(hex, [this, call, slot, diag, h = std::move(h)](
                                                                             const std::exception_ptr& ep,
                                                                             result<boost::json::object> r) mutable {
                               unlink(call.get());
                               if (slot.is_connected()) slot.clear();
                               if (ep) std::rethrow_exception(ep);  // run() reports errors; only bad_alloc gets here
                               if (diag) *diag = std::move(r.diag);
                               std::move(h)(r.ec, std::move(r.value));
                           })));
    }

    void cancel_all() {
        std::vector<std::shared_ptr<call_entry>> calls;
        {
            std::lock_guard lock(in_flight_mu_);
            for (auto* e = in_flight_; e; e = e->next) calls.push_back(e->shared_from_this());
        }
        if (calls.empty()) return;
        asio::dispatch(exec_, [calls = std::move(calls)] {
            for (const auto& c : calls) c->signal.emit(asio::cancellation_type::terminal);
        });
    }

    static std::string describe(const result<boost::json::object>& out) {
        return out.diag.server_code.empty() ? out.ec.message() : out.diag.server_code;
    }

    void set_outcome_unknown(result<boost::json::object>& out) {
        ++outcome_unknown_;
        out.diag.client_message = describe(out) +
                                  (out.diag.client_message.empty() ? "" : " (" + out.diag.client_message + ")") +
                                  "; the request was sent, so it may have been carried out: reconcile before "
                                  "sending it again";
        out.ec = client_errc::outcome_unknown;
    }

    // The executor given to the constructor: completion handlers run on it
    // unless they have their own.
    asio::any_io_executor user_exec_;
    // A strand of it (client_params::thread_safe), else the same executor:
    // every I/O object and timer of the client lives here.
    asio::any_io_executor exec_;
    client_params params_;
    endpoint ep_;
    std::string host_;
    tc3_signer signer_;
    detail::connection_pool pool_;
    retry_budget budget_;
    uniform_source uniform_;
    std::shared_ptr<rate_limit_group> limits_;
    std::uint64_t calls_ = 0, attempts_ = 0, stale_retries_ = 0, retries_ = 0, throttled_ = 0, outcome_unknown_ = 0;
    std::uint64_t token_retries_ = 0, clock_corrections_ = 0;
    std::int64_t skew_ = 0;  // server time - local time, seconds (learn_clock_skew)
    std::mutex in_flight_mu_;
    call_entry* in_flight_ = nullptr;  // calls in flight, for cancel()
    // Last: its fetch handlers read the members above (through wall_now).
    std::optional<detail::credential_cache> creds_;  // empty for unsigned requests
};

std::shared_ptr<rate_limit_group> make_rate_limit_group(asio::any_io_executor ex,
                                                        std::map<std::string, double, std::less<>> rate_overrides,
                                                        const shared_limiter_params& shared) {
    for (const auto& [action, rate] : rate_overrides)
        if (!(rate > 0) || !std::isfinite(rate))
            config_error(client_errc::invalid_config,
                         "the rate override of " + action + " must be a positive number of requests per second");
    std::unique_ptr<detail::shared_limiter_backend> backend;
    if (!shared.url.empty()) {
        std::string why;
        const auto url = parse_limiter_url(shared.url, why);
        if (!url) config_error(client_errc::invalid_config, "shared_limiter.url: " + why);
        if (shared.expected_processes == 0)
            config_error(client_errc::invalid_config, "shared_limiter.expected_processes must be at least 1");
        if (shared.reserve_ahead.count() < 0 || shared.command_timeout.count() <= 0 ||
            shared.connect_timeout.count() <= 0 || shared.reconnect_max.count() <= 0 || shared.idle_close.count() <= 0)
            config_error(client_errc::invalid_config,
                         "shared_limiter: reserve_ahead must not be negative; the timeouts, reconnect_max and "
                         "idle_close must be positive");
#if defined(CBS_HAVE_REDIS)
        const std::string key_base = url->prefix + ":" + (shared.account.empty() ? "default" : shared.account) + ":" +
                                     (shared.region.empty() ? "all" : shared.region) + ":";
        backend = detail::make_redis_limiter_backend(ex, shared, *url, key_base);
#else
        config_error(client_errc::invalid_config,
                     "shared_limiter.url is set, but this build has no Redis limiter (hiredis was not found when it "
                     "was built; install libhiredis-dev and rebuild)");
#endif
    }
    return std::make_shared<rate_limit_group>(std::move(ex), std::move(rate_overrides), std::move(backend));
}

client::client(executor_type ex, client_params params)
    : impl_(std::make_unique<impl>(std::move(ex), std::move(params))) {}

client::~client() = default;
client::client(client&&) noexcept = default;
client& client::operator=(client&&) noexcept = default;

client::executor_type client::get_executor() const noexcept {
    return impl_->user_exec_;
}

const client_params& client::params() const noexcept {
    return impl_->params_;
}

client_stats client::stats() const {
    auto p = impl_->pool_.stats();
    client_stats s;
    s.calls = impl_->calls_;
    s.attempts = impl_->attempts_;
    s.connections_opened = p.connects;
    s.connection_reuses = p.reuses;
    s.stale_retries = impl_->stale_retries_;
    s.retries = impl_->retries_;
    s.throttled = impl_->throttled_;
    s.outcome_unknown = impl_->outcome_unknown_;
    s.retry_budget = impl_->budget_.available();
    s.open_connections = p.open;
    s.idle_connections = p.idle;
    s.token_retries = impl_->token_retries_;
    s.clock_corrections = impl_->clock_corrections_;
    s.clock_skew_seconds = impl_->skew_;
    if (impl_->creds_) {
        auto cs = impl_->creds_->stats();
        s.credential_fetches = cs.fetches;
        s.credential_refreshes = cs.refreshes;
        s.credential_failures = cs.failures;
        s.credential_source = std::move(cs.source);
    }
    impl_->limits_->add_stats(s);
    return s;
}

std::string client::render_request(std::string_view action, const boost::json::object& body,
                                   std::int64_t timestamp) const {
    tc3_signer signer;  // a private one: render_request may run off the strand
    if (impl_->params_.unsigned_requests)
        return impl_->build(action, boost::json::serialize(body), timestamp, signer, nullptr);
    // Without a provider, the configured keys; with one, what it last gave
    // (none before the first call: then the request shows no SecretId).
    const credentials* c = &impl_->params_.creds;
    credentials none;
    if (impl_->params_.credentials_provider) {
        c = &none;
        if (const auto* cur = impl_->creds_ ? impl_->creds_->current() : nullptr) c = cur;
    }
    return impl_->build(action, boost::json::serialize(body), timestamp, signer, c);
}

void client::start_call_(impl* p, detail::call_input in, diagnostics* diag, detail::json_handler handler) {
    p->start(std::move(in), diag, std::move(handler));
}

void client::cancel() {
    impl_->cancel_all();
}

}  // namespace cbs
