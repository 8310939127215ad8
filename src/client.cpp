// The call pipeline: validate → lease → (limiter token) → sign → write and
// read → classify → (retry). The decisions are detail::call_fsm's; this file
// does the I/O.
#include <cbs/client.hpp>
#include <cbs/detail/async_rate_limiter.hpp>
#include <cbs/detail/call_fsm.hpp>
#include <cbs/detail/connection_pool.hpp>
#include <cbs/detail/envelope.hpp>
#include <cbs/endpoint.hpp>
#include <cbs/tc3_signer.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <optional>
#include <random>

namespace cbs {

namespace asio = boost::asio;

namespace {

constexpr std::string_view request_client = "cbs-async/0.1.0";

bool is_token_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

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
    if (p.creds.secret_id.empty() || p.creds.secret_key.empty())
        config_error(client_errc::credentials_missing,
                     "client_params.creds needs both a SecretId and a SecretKey (see resolve_credentials)");
    if (has_ctl(p.creds.secret_id) || has_ctl(p.creds.token) || has_ctl(p.language) || has_ctl(p.version) ||
        has_ctl(p.content_type))
        config_error(client_errc::invalid_config, "a credential or header value contains control characters");
    if (p.request_timeout.count() <= 0) config_error(client_errc::invalid_config, "request_timeout must be positive");
    if (p.pool.max_size == 0) config_error(client_errc::invalid_config, "pool.max_size must be at least 1");
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
        : exec_(p.thread_safe ? asio::any_io_executor(asio::make_strand(ex)) : std::move(ex)),
          params_(std::move(p)),
          ep_(checked_endpoint(params_)),
          host_(ep_.host_header()),
          pool_(exec_, ep_, params_.pool),
          budget_(params_.retry),
          uniform_(make_uniform_source(params_.jitter_seed ? params_.jitter_seed : std::random_device{}())) {}

    using limiter = detail::async_rate_limiter<std::chrono::steady_clock>;

    /// The limiter of `action`, created on first use with the documented
    /// default or the user's override.
    limiter& limiter_for(const std::string& action) {
        auto it = limiters_.find(action);
        if (it == limiters_.end()) {
            auto lp = default_limiter_params(action);
            if (auto o = params_.rate_overrides.find(action); o != params_.rate_overrides.end())
                lp.rate_per_second = o->second;
            it = limiters_.emplace(action, std::make_unique<limiter>(exec_, lp)).first;
        }
        return *it->second;
    }

    std::int64_t now() const { return params_.unix_time ? params_.unix_time() : system_unix_time(); }

    /// Builds and signs the request of one attempt (fresh timestamp each
    /// time), as the bytes that go on the wire: one contiguous string, so a
    /// keep-alive exchange is one TLS record and one write.
    std::string build(std::string_view action, std::string_view payload, std::int64_t ts, tc3_signer& signer) const {
        tc3_header action_header{"X-TC-Action", action};
        tc3_request sr;
        sr.secret_id = params_.creds.secret_id;
        sr.secret_key = params_.creds.secret_key;
        sr.service = params_.service;
        sr.host = host_;
        sr.content_type = params_.content_type;
        sr.payload = payload;
        sr.timestamp = ts;
        if (params_.sign_action) sr.extra_signed_headers = {&action_header, 1};
        const auto authorization = signer.authorization(sr);
        const auto timestamp = std::to_string(ts);
        const auto length = std::to_string(payload.size());

        std::string wire;
        wire.reserve(320 + host_.size() + authorization.size() + params_.creds.token.size() + payload.size());
        auto field = [&wire](std::string_view name, std::string_view value) {
            wire.append(name).append(": ").append(value).append("\r\n");
        };
        wire.append("POST / HTTP/1.1\r\n");
        field("Host", host_);
        field("Authorization", authorization);
        field("Content-Type", params_.content_type);
        field("X-TC-Action", action);
        field("X-TC-Timestamp", timestamp);
        field("X-TC-Version", params_.version);
        field("X-TC-Region", params_.region);
        if (params_.creds.temporary()) field("X-TC-Token", params_.creds.token);
        if (!params_.language.empty()) field("X-TC-Language", params_.language);
        field("X-TC-RequestClient", request_client);
        field("Content-Length", length);
        wire.append("\r\n").append(payload);
        return wire;
    }

    error_code check_call(std::string_view action, std::string_view payload, const call_options& opts,
                          diagnostics& diag) const {
        if (opts.deadline.count() < 0 || opts.request_timeout.count() < 0) {
            diag.client_message = "call_options: a negative deadline or request_timeout (0 means the client's default)";
            return client_errc::invalid_request;
        }
        if (action.empty() || !std::all_of(action.begin(), action.end(), is_token_char)) {
            diag.client_message = "action '" + std::string(action) + "' is not an API action name (letters and digits)";
            return client_errc::invalid_request;
        }
        if (payload.size() > params_.max_request_body) {
            diag.client_message = "request body of " + std::to_string(payload.size()) + " bytes exceeds the limit of " +
                                  std::to_string(params_.max_request_body);
            return client_errc::invalid_request;
        }
        return {};
    }

    /// Turns one exchange into the attempt's outcome (no retry decision here).
    void conclude(const detail::exchange_result& r, std::string_view action, result<boost::json::object>& out) {
        if (r.ec) {
            out.diag.client_message = std::string(action) + " to " + ep_.url() + ": " + r.ec.message();
            out.ec = r.ec == asio::error::operation_aborted ? error_code(client_errc::cancelled) : r.ec;
            return;
        }
        if (r.status != 200) {
            // 429: a gateway throttled us before the API saw the request (safe
            // to send again, after slowing down). Other 4xx (and 1xx/3xx that
            // reach here): refused before the API, and sending again will not
            // change that. 5xx: a gateway fault; the API may have acted.
            const auto status = std::to_string(r.status);
            std::string what;
            if (r.status == 429) {
                out.ec = client_errc::http_throttled;
                what = "throttled by a gateway (429 Too Many Requests)";
            } else if (r.status >= 500 && r.status <= 599) {
                out.ec = client_errc::http_status;
                what = "not an API answer (a gateway or proxy error)";
            } else if (r.status >= 200 && r.status <= 299) {
                out.ec = client_errc::http_status;
                what = "a success status other than 200 is not an API answer";
            } else {
                out.ec = client_errc::http_rejected;
                what = "refused before the API saw the request (a proxy, firewall or gateway); not retried";
            }
            out.diag.client_message = "HTTP " + status + " from " + ep_.url() +
                                      (r.content_type.empty() ? "" : " (" + r.content_type + ")") + ": " + what;
            return;
        }
        out.ec = detail::parse_envelope(r.body, out.value, out.diag);
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
        if ((out.ec = check_call(action, payload, opts, out.diag))) co_return out;
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

        for (auto act = fsm.start();;) {
            switch (act.step) {
                case detail::call_step::lease: {
                    if (act.new_attempt) {
                        ++out.diag.attempts;
                        ++attempts_;
                    } else {
                        ++stale_retries_;
                    }
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
                    const auto req = build(action, payload, now(), signer_);
                    auto r = co_await lease->async_exchange(req, timeout, params_.pool.max_response_body);
                    const bool reused = lease.reused();
                    lease.release(!r.ec && r.reusable);
                    out.ec = {};
                    out.diag.server_code.clear();
                    out.diag.server_message.clear();
                    out.diag.client_message.clear();
                    conclude(r, action, out);
                    act = fsm.on_exchanged({out.ec, out.diag.server_code, r.written, reused, r.got_response_bytes},
                                           steady::now(), budget_, uniform_);
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

    // A strand of the user's executor (client_params::thread_safe), else
    // that executor itself: every I/O object and timer of the client lives here.
    asio::any_io_executor exec_;
    client_params params_;
    endpoint ep_;
    std::string host_;
    tc3_signer signer_;
    detail::connection_pool pool_;
    retry_budget budget_;
    uniform_source uniform_;
    std::map<std::string, std::unique_ptr<limiter>, std::less<>> limiters_;
    std::uint64_t calls_ = 0, attempts_ = 0, stale_retries_ = 0, retries_ = 0, throttled_ = 0, outcome_unknown_ = 0;
};

client::client(asio::any_io_executor ex, client_params params)
    : impl_(std::make_unique<impl>(std::move(ex), std::move(params))) {}

client::~client() = default;

const client_params& client::params() const noexcept {
    return impl_->params_;
}

client_stats client::stats() const {
    auto p = impl_->pool_.get_stats();
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
    return s;
}

std::string client::render_request(std::string_view action, const boost::json::object& body,
                                   std::int64_t timestamp) const {
    tc3_signer signer;  // a private one: render_request may run off the strand
    return impl_->build(action, boost::json::serialize(body), timestamp, signer);
}

asio::awaitable<result<boost::json::object>> client::async_call(std::string action, boost::json::object body,
                                                                std::nothrow_t, call_options opts) {
    auto payload = boost::json::serialize(body);
    if (!impl_->params_.thread_safe) {
        // The caller promised one thread at a time: run in its coroutine.
        // run() turns throw_if_cancelled off for the coroutine thread it runs
        // in, here the caller's: give the caller its setting back.
        const bool caller_throws = co_await asio::this_coro::throw_if_cancelled();
        auto r = co_await impl_->run(std::move(action), std::move(payload), std::move(opts));
        co_await asio::this_coro::throw_if_cancelled(caller_throws);
        co_return r;
    }
    // Hop onto the client's strand for the whole call; co_spawn forwards the
    // caller's cancellation to it.
    co_return co_await asio::co_spawn(impl_->exec_, impl_->run(std::move(action), std::move(payload), std::move(opts)),
                                      asio::use_awaitable);
}

asio::awaitable<boost::json::object> client::async_call(std::string action, boost::json::object body,
                                                        call_options opts) {
    auto r = co_await async_call(std::move(action), std::move(body), std::nothrow, opts);
    if (r.ec) throw error(r.ec, std::move(r.diag));
    co_return std::move(r.value);
}

asio::awaitable<result<create_snapshot_group_response>> client::async_create_snapshot_group(
    create_snapshot_group_request req, std::nothrow_t, call_options opts) {
    co_return co_await async_invoke(std::move(req), std::nothrow, opts);
}

asio::awaitable<create_snapshot_group_response> client::async_create_snapshot_group(create_snapshot_group_request req,
                                                                                    call_options opts) {
    auto r = co_await async_create_snapshot_group(std::move(req), std::nothrow, opts);
    if (r.ec) throw error(r.ec, std::move(r.diag));
    co_return std::move(r.value);
}

}  // namespace cbs
