// Pure retry decisions (see retry_policy.hpp).
#include <cbs/retry_policy.hpp>

// OpenSSL's error-code layout and reason constants only (macros and inline
// decoders): this layer does no TLS, and links nothing from libssl.
#include <openssl/err.h>
#include <openssl/sslerr.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>

namespace cbs {
namespace {

// `code` is `prefix` or starts with `prefix` + '.' (a sub-code).
bool is_code_family(std::string_view code, std::string_view prefix) noexcept {
    if (!code.starts_with(prefix)) return false;
    return code.size() == prefix.size() || code[prefix.size()] == '.';
}

// `action` starts with the verb `verb` followed by an upper-case letter.
bool starts_with_verb(std::string_view action, std::string_view verb) noexcept {
    return action.size() > verb.size() && action.starts_with(verb) && action[verb.size()] >= 'A' &&
           action[verb.size()] <= 'Z';
}

}  // namespace

bool is_permanent_tls_failure(const error_code& ec) noexcept {
    // Asio's SSL category, told by its name: the category object itself is
    // defined in the compiled Asio SSL code of the transport layer (cbs::cbs),
    // which this pure layer does not link.
    if (std::string_view(ec.category().name()) != "asio.ssl") return false;
    const auto packed = static_cast<unsigned long>(static_cast<unsigned int>(ec.value()));
    if (ERR_GET_LIB(packed) != ERR_LIB_SSL) return false;
    switch (ERR_GET_REASON(packed)) {
        // The peer's certificate: chain, expiry, host name (all reported as a
        // verification failure; the verify result names which).
        case SSL_R_CERTIFICATE_VERIFY_FAILED:
        // No protocol version or cipher both sides accept, said by either side.
        case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
        case SSL_R_UNSUPPORTED_PROTOCOL:
        case SSL_R_VERSION_TOO_LOW:
        case SSL_R_NO_PROTOCOLS_AVAILABLE:
        case SSL_R_NO_CIPHERS_AVAILABLE:
        case SSL_R_NO_SHARED_CIPHER:
        case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
        case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
        case SSL_R_TLSV1_ALERT_INSUFFICIENT_SECURITY:
        case SSL_R_TLSV1_UNRECOGNIZED_NAME:
        case SSL_R_DH_KEY_TOO_SMALL:
        case SSL_R_UNSAFE_LEGACY_RENEGOTIATION_DISABLED:
            return true;
        default:
            return false;
    }
}

std::string_view to_string(error_class c) noexcept {
    switch (c) {
        case error_class::none:
            return "none";
        case error_class::throttle:
            return "throttle";
        case error_class::transient:
            return "transient";
        case error_class::busy:
            return "busy";
        case error_class::network_before_send:
            return "network_before_send";
        case error_class::network_ambiguous:
            return "network_ambiguous";
        case error_class::fatal:
            return "fatal";
    }
    return "unknown";
}

std::string_view to_string(give_up_reason r) noexcept {
    switch (r) {
        case give_up_reason::none:
            return "none";
        case give_up_reason::not_retryable:
            return "not_retryable";
        case give_up_reason::not_idempotent:
            return "not_idempotent";
        case give_up_reason::max_attempts:
            return "max_attempts";
        case give_up_reason::deadline:
            return "deadline";
        case give_up_reason::budget_exhausted:
            return "budget_exhausted";
    }
    return "unknown";
}

error_class classify(api_errc code) noexcept {
    // No default: -Wswitch flags a code added to api_error_codes.inc and not
    // classified here (and the unit test checks every code against a table).
    switch (code) {
        case api_errc::request_limit_exceeded:
        case api_errc::request_limit_global_uin:
        case api_errc::request_limit_ip:
        case api_errc::request_limit_uin:
            return error_class::throttle;

        case api_errc::internal_error:
        case api_errc::internal_error_component:
        case api_errc::service_unavailable:
            return error_class::transient;

        case api_errc::invalid_disk_snapshot_creating:
        case api_errc::invalid_disk_busy:
        case api_errc::resource_busy:
        case api_errc::resource_in_use:
        case api_errc::resource_in_use_disk_migrating:
        case api_errc::resource_in_use_disk_rollbacking:
        case api_errc::resource_unavailable_snapshot_creating:
        case api_errc::resource_unavailable_too_many_creating:
            return error_class::busy;

        case api_errc::unrecognized:
        case api_errc::action_offline:
        case api_errc::auth_invalid_authorization:
        case api_errc::auth_invalid_secret_id:
        case api_errc::auth_mfa_failure:
        case api_errc::auth_secret_id_not_found:
        case api_errc::auth_signature_expire:  // fresh signatures already; a skewed clock stays skewed
        case api_errc::auth_signature_failure:
        case api_errc::auth_token_failure:
        case api_errc::auth_unauthorized_operation:
        case api_errc::dry_run_operation:
        case api_errc::failed_operation:
        case api_errc::invalid_action:
        case api_errc::invalid_parameter:
        case api_errc::invalid_parameter_value:
        case api_errc::invalid_request:
        case api_errc::invalid_filter:
        case api_errc::ip_in_blacklist:
        case api_errc::ip_not_in_whitelist:
        case api_errc::limit_exceeded:
        case api_errc::missing_parameter:
        case api_errc::no_such_product:
        case api_errc::no_such_version:
        case api_errc::request_size_limit_exceeded:
        case api_errc::response_size_limit_exceeded:
        case api_errc::resource_insufficient:
        case api_errc::resource_not_found:
        case api_errc::resource_unavailable:
        case api_errc::unauthorized_operation:
        case api_errc::unknown_parameter:
        case api_errc::unsupported_operation:
        case api_errc::unsupported_protocol:
        case api_errc::unsupported_region:
        case api_errc::insufficient_snapshot_quota:
        case api_errc::invalid_account_insufficient_balance:
        case api_errc::invalid_disk_not_supported:
        case api_errc::invalid_disk_id_not_found:
        case api_errc::invalid_snapshot_id_not_found:
        case api_errc::resource_not_found_not_found:
        case api_errc::resource_unavailable_not_supported:
        case api_errc::resource_unavailable_chain_too_large:
        case api_errc::unsupported_operation_binded_image:
        case api_errc::unsupported_operation_state_error:
        case api_errc::unsupported_operation_multi_instance:
            return error_class::fatal;
    }
    return error_class::fatal;  // a value outside the enumeration
}

error_class classify_code(std::string_view server_code) noexcept {
    if (server_code.empty()) return error_class::none;
    const error_code ec = api_error_from_string(server_code);
    if (ec.value() != static_cast<int>(api_errc::unrecognized)) return classify(static_cast<api_errc>(ec.value()));
    // An unknown code: its family decides. Only retryable families are listed;
    // everything else is fatal (retrying an unknown error risks a duplicate).
    if (is_code_family(server_code, "RequestLimitExceeded")) return error_class::throttle;
    if (is_code_family(server_code, "InternalError") || is_code_family(server_code, "ServiceUnavailable"))
        return error_class::transient;
    if (is_code_family(server_code, "ResourceBusy") || is_code_family(server_code, "ResourceInUse"))
        return error_class::busy;
    return error_class::fatal;
}

error_class classify_http_status(unsigned status) noexcept {
    if (status == 429) return error_class::throttle;
    if (status >= 500 && status <= 599) return error_class::transient;
    return error_class::fatal;
}

error_class classify(const error_code& ec, bool request_written, std::string_view server_code) noexcept {
    if (!ec) return error_class::none;
    const auto network = request_written ? error_class::network_ambiguous : error_class::network_before_send;
    if (ec.category() == api_category()) {
        const auto code = static_cast<api_errc>(ec.value());
        if (code == api_errc::unrecognized && !server_code.empty()) return classify_code(server_code);
        return classify(code);
    }
    if (ec.category() == client_category()) {
        switch (static_cast<client_errc>(ec.value())) {
            case client_errc::resolve_timeout:
            case client_errc::connect_timeout:
            case client_errc::handshake_timeout:
            case client_errc::pool_exhausted:
            case client_errc::proxy_failed:  // nothing reached the API: like a failed connect
                return error_class::network_before_send;
            case client_errc::request_timeout:
            case client_errc::connection_closed:
                return network;
            case client_errc::http_status:  // 5xx (and other non-4xx statuses): a gateway fault
            case client_errc::bad_response:
                return error_class::transient;
            case client_errc::http_throttled:
                return error_class::throttle;
            case client_errc::http_rejected:  // another 4xx: refused before the API saw it
            case client_errc::invalid_request:
            case client_errc::invalid_config:
            case client_errc::credentials_missing:
            case client_errc::credentials_invalid:
            case client_errc::response_too_large:
            case client_errc::plain_http_refused:
            case client_errc::cancelled:
            case client_errc::outcome_unknown:
            case client_errc::deadline_exceeded:
            case client_errc::journal_failed:
            case client_errc::run_in_progress:
            case client_errc::proxy_rejected:  // credentials or policy: the next attempt meets the same refusal
                return error_class::fatal;
        }
        return error_class::fatal;
    }
    // A TLS handshake refused for a reason that the next attempt would meet
    // again (certificate, host name, protocol version, ciphers).
    if (is_permanent_tls_failure(ec)) return error_class::fatal;
    // asio::error::operation_aborted is ECANCELED: a cancellation, not a fault.
    if (ec == boost::system::errc::operation_canceled) return error_class::fatal;
    return network;
}

bool is_idempotent(std::string_view action) noexcept {
    for (std::string_view verb : {"Create", "Apply", "Copy", "Renew", "Run", "Allocate", "Purchase"})
        if (starts_with_verb(action, verb)) return false;
    return true;
}

retry_class_limits limits_for(const retry_params& p, error_class c) noexcept {
    switch (c) {
        case error_class::throttle:
            return {p.throttle_base, p.throttle_cap, p.throttle_max_attempts, p.throttle_cost};
        case error_class::transient:
            return {p.transient_base, p.transient_cap, p.transient_max_attempts, p.transient_cost};
        case error_class::busy:
            return {p.busy_base, p.busy_cap, p.busy_max_attempts, p.busy_cost};
        case error_class::network_before_send:
            return {p.network_base, p.network_cap, p.network_max_attempts, p.network_before_send_cost};
        case error_class::network_ambiguous:
            return {p.network_base, p.network_cap, p.network_max_attempts, p.network_ambiguous_cost};
        case error_class::none:
        case error_class::fatal:
            break;
    }
    return {};
}

std::chrono::nanoseconds backoff_ceiling(std::chrono::nanoseconds base, std::chrono::nanoseconds cap,
                                         unsigned n) noexcept {
    const auto b = base.count(), c = cap.count();
    if (b <= 0 || c <= 0) return std::chrono::nanoseconds(0);
    if (n >= 62 || b > (c >> n)) return cap;  // base * 2^n would exceed cap (or overflow)
    return std::chrono::nanoseconds(std::min(c, b << n));
}

std::chrono::nanoseconds full_jitter(std::chrono::nanoseconds base, std::chrono::nanoseconds cap, unsigned n,
                                     double u) noexcept {
    const auto ceiling = backoff_ceiling(base, cap, n).count();
    if (!(u > 0)) return std::chrono::nanoseconds(0);  // also NaN
    if (u > 1) u = 1;
    const double d = std::floor(u * static_cast<double>(ceiling));
    const auto ns = d >= static_cast<double>(ceiling) ? ceiling : static_cast<std::int64_t>(d);
    return std::chrono::nanoseconds(ns);
}

uniform_source make_uniform_source(std::uint64_t seed) {
    auto rng = std::make_shared<std::mt19937_64>(seed);
    return [rng] {
        const double u = std::generate_canonical<double, 53>(*rng);
        return u < 1.0 ? u : std::nextafter(1.0, 0.0);
    };
}

// ---------------------------------------------------------------------------

retry_budget::retry_budget(const retry_params& params) : retry_budget(params, params.budget_capacity) {}

retry_budget::retry_budget(const retry_params& params, int initial_tokens)
    : params_(params),
      capacity_(std::max(0, params.budget_capacity)),
      tokens_(std::clamp(initial_tokens, 0, capacity_)) {}

int retry_budget::cost(error_class c) const noexcept {
    return std::max(0, limits_for(params_, c).cost);
}

bool retry_budget::try_acquire(error_class c) noexcept {
    const int price = cost(c);
    if (tokens_ < price) {
        ++refused_;
        return false;
    }
    tokens_ -= price;
    return true;
}

void retry_budget::on_success(bool was_retry, error_class last) noexcept {
    const int back = was_retry ? cost(last) : std::max(0, params_.budget_success_reward);
    tokens_ = std::min(capacity_, tokens_ + back);
}

// ---------------------------------------------------------------------------

namespace {
std::chrono::steady_clock::time_point add_saturating(std::chrono::steady_clock::time_point t,
                                                     std::chrono::nanoseconds d) noexcept {
    using tp = std::chrono::steady_clock::time_point;
    if (d.count() <= 0) return t;
    if (d > tp::max() - t) return tp::max();
    return t + std::chrono::duration_cast<tp::duration>(d);
}
}  // namespace

retry_state::retry_state(const retry_params& params, bool idempotent, time_point start)
    : retry_state(params, idempotent, start, add_saturating(start, params.deadline)) {}

retry_state::retry_state(const retry_params& params, bool idempotent, time_point /*start*/, time_point deadline)
    : params_(params), idempotent_(idempotent), deadline_(deadline) {}

unsigned retry_state::failures(error_class c) const noexcept {
    const auto i = static_cast<std::size_t>(c);
    return i < class_count ? failures_[i] : 0;
}

retry_decision retry_state::on_failure(error_class c, time_point now, retry_budget& budget,
                                       const uniform_source& uniform) {
    retry_decision d;
    d.cls = c;
    const auto i = static_cast<std::size_t>(c);
    if (i < class_count) ++failures_[i];
    ++failures_total_;

    if (c == error_class::none || c == error_class::fatal || i >= class_count) {
        d.reason = give_up_reason::not_retryable;
        return d;
    }
    // The server may have committed a non-idempotent request: never re-send
    // blindly; the caller reconciles (looks the group up by its name).
    if (!idempotent_ && (c == error_class::transient || c == error_class::network_ambiguous)) {
        d.what = retry_action::outcome_unknown;
        d.reason = give_up_reason::not_idempotent;
        return d;
    }
    const auto lim = limits_for(params_, c);
    if (lim.max_attempts != 0 && failures_[i] >= lim.max_attempts) {
        d.reason = give_up_reason::max_attempts;
        return d;
    }
    const double u = uniform ? uniform() : 1.0;
    d.delay = full_jitter(lim.base, lim.cap, failures_[i] - 1, u);
    if (add_saturating(now, d.delay) > deadline_) {
        d.delay = std::chrono::nanoseconds(0);
        d.reason = give_up_reason::deadline;
        return d;
    }
    // Checked last, so a retry that would not happen anyway costs nothing.
    if (!budget.try_acquire(c)) {
        d.delay = std::chrono::nanoseconds(0);
        d.reason = give_up_reason::budget_exhausted;
        return d;
    }
    d.what = retry_action::retry;
    ++retries_;
    last_retry_class_ = c;
    return d;
}

void retry_state::on_success(retry_budget& budget) noexcept {
    budget.on_success(retries_ > 0, last_retry_class_);
}

}  // namespace cbs
