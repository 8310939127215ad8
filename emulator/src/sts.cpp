// STS actions, metadata answers and the temporary credentials they issue
// (see sts.hpp). Codes are those the service lists for the STS actions:
// MissingParameter, InvalidParameter.ParamError, InvalidParameter.OverTimeError,
// InvalidParameter.WebIdentityTokenError, ResourceNotFound.RoleNotFound,
// UnauthorizedOperation.
#include "sts.hpp"

#include <cbs/tc3_signer.hpp>  // detail::constant_time_equal

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace cbs::emu::detail {
namespace json = boost::json;

namespace {

constexpr std::string_view metadata_prefix = "/latest/meta-data/cam/security-credentials";
// Issued credentials expired this long ago are forgotten (a request with one
// then answers AuthFailure.SecretIdNotFound), and at most this many are kept.
constexpr std::int64_t forget_after_s = 86400;
constexpr std::size_t max_issued = 200'000;

struct utc_parts {
    int year;
    unsigned month, day, weekday;  // weekday 0 = Sunday
    long long hour, minute, second;
};

utc_parts split(std::int64_t t) {
    using namespace std::chrono;
    const sys_seconds tp{seconds(t)};
    const auto day = floor<days>(tp);
    const year_month_day ymd{day};
    const hh_mm_ss hms{tp - day};
    return {int(ymd.year()),     unsigned(ymd.month()), unsigned(ymd.day()),  weekday{day}.c_encoding(),
            hms.hours().count(), hms.minutes().count(), hms.seconds().count()};
}

bool name_char(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '+' ||
           c == '=' || c == ',' || c == '.' || c == '@' || c == '-';
}

api_failure missing(std::string_view name) {
    return {"MissingParameter", "The request is missing a required parameter `" + std::string(name) + "`."};
}

api_failure param_error(std::string message) {
    return {"InvalidParameter.ParamError", std::move(message)};
}

// The string parameter `name`: nullopt and `err` set when missing or not a string.
std::optional<std::string_view> string_param(const json::object& p, std::string_view name,
                                             std::optional<api_failure>& err) {
    const auto* v = p.if_contains(name);
    if (!v) {
        err = missing(name);
        return std::nullopt;
    }
    if (!v->is_string()) {
        err = param_error("The parameter `" + std::string(name) + "` must be a string.");
        return std::nullopt;
    }
    return std::string_view(v->as_string());
}

}  // namespace

bool is_sts_action(std::string_view action) noexcept {
    return action == "AssumeRole" || action == "AssumeRoleWithWebIdentity";
}

bool is_sts_family(std::string_view action) noexcept {
    return is_sts_action(action) || action == "AssumeRoleWithSAML" || action == "GetFederationToken" ||
           action == "GetCallerIdentity" || action == "QueryApiKey";
}

std::string imf_fixdate(std::int64_t unix_seconds) {
    static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const auto u = split(unix_seconds);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %02u %s %04d %02lld:%02lld:%02lld GMT", days[u.weekday % 7], u.day,
                  months[(u.month + 11) % 12], u.year, u.hour, u.minute, u.second);
    return buf;
}

std::string iso8601_utc(std::int64_t unix_seconds) {
    const auto u = split(unix_seconds);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lldZ", u.year, u.month, u.day, u.hour, u.minute,
                  u.second);
    return buf;
}

bool is_name(std::string_view s, std::size_t lo, std::size_t hi) noexcept {
    return s.size() >= lo && s.size() <= hi && std::all_of(s.begin(), s.end(), name_char);
}

std::optional<role_arn_parts> parse_role_arn(std::string_view arn) {
    constexpr std::string_view head = "qcs::cam::uin/", mid = ":roleName/";
    if (!arn.starts_with(head)) return std::nullopt;
    arn.remove_prefix(head.size());
    const auto colon = arn.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    const std::string_view uin = arn.substr(0, colon);
    if (uin.empty() || uin.size() > 20 ||
        !std::all_of(uin.begin(), uin.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    arn.remove_prefix(colon);
    if (!arn.starts_with(mid)) return std::nullopt;
    arn.remove_prefix(mid.size());
    if (!is_name(arn, 1, 128)) return std::nullopt;
    return role_arn_parts{std::string(uin), std::string(arn)};
}

sts_state::sts_state(const emulator_params& p)
    : roles_(p.roles),
      lifetime_(p.temp_credential_lifetime.count()),
      oidc_provider_id_(p.oidc_provider_id),
      oidc_token_(p.oidc_token),
      metadata_role_(p.metadata_role),
      rng_(std::random_device{}()) {}

std::string sts_state::random_string(std::size_t n) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::string s;
    s.reserve(n);
    for (std::size_t i = 0; i < n; ++i) s.push_back(alphabet[rng_() % (sizeof alphabet - 1)]);
    return s;
}

const account* sts_state::find(std::string_view secret_id) const {
    const auto it = by_id_.find(secret_id);
    return it == by_id_.end() ? nullptr : &it->second.key;
}

bool sts_state::expired(std::string_view secret_id, std::int64_t now) const {
    const auto it = by_id_.find(secret_id);
    return it != by_id_.end() && now >= it->second.info.expired_time;
}

const std::string* sts_state::account_of(std::string_view secret_id) const {
    const auto it = by_id_.find(secret_id);
    return it == by_id_.end() ? nullptr : &it->second.rate_account;
}

void sts_state::forget_old(std::int64_t now) {
    std::erase_if(order_, [&](const std::string& id) {
        const auto it = by_id_.find(id);
        if (it == by_id_.end()) return true;
        if (it->second.info.expired_time + forget_after_s >= now) return false;
        by_id_.erase(it);
        return true;
    });
    while (order_.size() >= max_issued) {
        by_id_.erase(order_.front());
        order_.pop_front();
    }
}

const sts_state::entry& sts_state::issue(std::string source, std::string role_arn, std::string session_name,
                                         std::string rate_account, std::int64_t now, std::int64_t lifetime) {
    forget_old(now);
    entry e;
    // Shaped like the service's: "AKID" + 32 characters, a 32-character key,
    // a long opaque token.
    do {
        e.key.secret_id = "AKID" + random_string(32);
    } while (by_id_.contains(e.key.secret_id));
    e.key.secret_key = random_string(32);
    e.key.token = random_string(128);
    e.info = {e.key.secret_id, std::move(source), std::move(role_arn), std::move(session_name), now, now + lifetime};
    e.rate_account = std::move(rate_account);
    order_.push_back(e.key.secret_id);
    std::string id = e.key.secret_id;
    return by_id_.emplace(std::move(id), std::move(e)).first->second;
}

json::object sts_state::credentials_response(const entry& e) const {
    json::object r;
    r["Credentials"] =
        json::object{{"Token", e.key.token}, {"TmpSecretId", e.key.secret_id}, {"TmpSecretKey", e.key.secret_key}};
    r["ExpiredTime"] = e.info.expired_time;
    r["Expiration"] = iso8601_utc(e.info.expired_time);
    return r;
}

// RoleArn (shape, configured), RoleSessionName and DurationSeconds, in the
// order a client most needs to hear about.
std::optional<api_failure> sts_state::check_role(const json::object& params, std::int64_t& lifetime,
                                                 role_arn_parts& role) const {
    std::optional<api_failure> err;
    const auto arn = string_param(params, "RoleArn", err);
    if (!arn) return err;
    const auto session = string_param(params, "RoleSessionName", err);
    if (!session) return err;
    const auto parts = parse_role_arn(*arn);
    if (!parts)
        return param_error("The parameter `RoleArn` is not a role ARN (qcs::cam::uin/<digits>:roleName/<name>): `" +
                           std::string(arn->substr(0, 160)) + "`.");
    if (!is_name(*session, 2, 128))
        return param_error(
            "The parameter `RoleSessionName` must be 2 to 128 characters of letters, digits and _+=,.@-: `" +
            std::string(session->substr(0, 160)) + "`.");
    std::int64_t duration = 7200;
    if (const auto* d = params.if_contains("DurationSeconds")) {
        if (d->is_int64())
            duration = d->as_int64();
        else if (d->is_uint64())
            duration = max_sts_duration + 1;  // beyond int64: out of range anyway
        else
            return param_error("The parameter `DurationSeconds` must be an integer.");
        if (duration <= 0 || duration > max_sts_duration)
            return api_failure{"InvalidParameter.OverTimeError",
                               "The parameter `DurationSeconds` must be between 1 and 43200 seconds, got " +
                                   (d->is_int64() ? std::to_string(duration) : json::serialize(*d)) + "."};
    }
    if (std::find(roles_.begin(), roles_.end(), *arn) == roles_.end())
        return api_failure{"ResourceNotFound.RoleNotFound",
                           "The role `" + std::string(arn->substr(0, 160)) + "` does not exist."};
    lifetime = std::min(duration, lifetime_);
    role = *parts;
    return std::nullopt;
}

sts_outcome sts_state::assume_role(const json::object& params, bool caller_temporary, std::int64_t now) {
    sts_outcome out;
    if (caller_temporary) {
        out.result.error = api_failure{"UnauthorizedOperation",
                                       "AssumeRole must be signed with a permanent key; temporary credentials "
                                       "(a SecretId with a token) may not assume a role."};
        return out;
    }
    std::int64_t lifetime = 0;
    role_arn_parts role;
    if (auto err = check_role(params, lifetime, role)) {
        out.result.error = std::move(err);
        return out;
    }
    const auto& e = issue("AssumeRole", std::string(params.at("RoleArn").as_string()),
                          std::string(params.at("RoleSessionName").as_string()), "uin:" + role.uin, now, lifetime);
    out.result.response = credentials_response(e);
    out.issued_secret_id = e.key.secret_id;
    return out;
}

sts_outcome sts_state::assume_role_with_web_identity(const json::object& params, std::int64_t now) {
    sts_outcome out;
    std::optional<api_failure> err;
    const auto provider = string_param(params, "ProviderId", err);
    const auto token = provider ? string_param(params, "WebIdentityToken", err) : std::nullopt;
    if (!token) {
        out.result.error = std::move(err);
        return out;
    }
    if (oidc_provider_id_.empty() || *provider != oidc_provider_id_) {
        out.result.error = param_error("The parameter `ProviderId` is not a known identity provider: `" +
                                       std::string(provider->substr(0, 160)) + "`.");
        return out;
    }
    if (token->size() != oidc_token_.size() || !cbs::detail::constant_time_equal(*token, oidc_token_)) {
        // Never echo the token: it is a credential.
        out.result.error =
            api_failure{"InvalidParameter.WebIdentityTokenError",
                        "The `WebIdentityToken` is not valid for the identity provider `" + oidc_provider_id_ + "`."};
        return out;
    }
    std::int64_t lifetime = 0;
    role_arn_parts role;
    if (auto e = check_role(params, lifetime, role)) {
        out.result.error = std::move(e);
        return out;
    }
    const auto& e = issue("AssumeRoleWithWebIdentity", std::string(params.at("RoleArn").as_string()),
                          std::string(params.at("RoleSessionName").as_string()), "uin:" + role.uin, now, lifetime);
    out.result.response = credentials_response(e);
    out.issued_secret_id = e.key.secret_id;
    return out;
}

metadata_answer sts_state::metadata(std::string_view method, std::string_view target, std::int64_t now) {
    metadata_answer a;
    const std::string_view path = target.substr(0, target.find('?'));
    std::string_view role;
    if (path == metadata_prefix ||
        (path.size() == metadata_prefix.size() + 1 && path.starts_with(metadata_prefix) && path.back() == '/'))
        a.action = "metadata:role";
    else if (path.starts_with(metadata_prefix) && path.size() > metadata_prefix.size() + 1 &&
             path[metadata_prefix.size()] == '/') {
        a.action = "metadata:credentials";
        role = path.substr(metadata_prefix.size() + 1);
    } else
        a.action = "metadata:other";

    auto not_found = [&] {
        a.status = 404;
        a.content_type = "text/html";
        a.body =
            "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
            "<center><h1>404 Not Found</h1></center>\r\n</body>\r\n</html>\r\n";
        return a;
    };
    if (method != "GET") {
        a.status = 405;
        a.content_type = "text/plain";
        a.body = "Method Not Allowed\n";
        return a;
    }
    if (a.action == "metadata:other" || metadata_role_.empty()) return not_found();
    if (a.action == "metadata:role") {
        a.content_type = "text/plain";
        a.body = metadata_role_;
        return a;
    }
    if (role != metadata_role_) return not_found();

    // The same credentials until they are close to expiry (within a third of
    // their lifetime or 300 s, whichever is smaller), then new ones; the old
    // ones stay valid until their own expiry, as with the service.
    const std::int64_t margin = std::min<std::int64_t>(lifetime_ / 3, 300);
    auto it = by_id_.find(metadata_current_);
    if (it == by_id_.end() || now >= it->second.info.expired_time - margin) {
        std::string arn, rate_account = "role:" + metadata_role_;
        for (const auto& r : roles_)
            if (auto parts = parse_role_arn(r); parts && parts->role_name == metadata_role_) {
                arn = r;
                rate_account = "uin:" + parts->uin;
                break;
            }
        const auto& e = issue("metadata", std::move(arn), "", std::move(rate_account), now, lifetime_);
        metadata_current_ = e.key.secret_id;
        it = by_id_.find(metadata_current_);
    }
    const entry& e = it->second;
    json::object body{{"TmpSecretId", e.key.secret_id},
                      {"TmpSecretKey", e.key.secret_key},
                      {"Token", e.key.token},
                      {"ExpiredTime", e.info.expired_time},
                      {"Expiration", iso8601_utc(e.info.expired_time)},
                      {"Code", "Success"}};
    a.content_type = "application/json";
    a.body = json::serialize(body);
    a.issued_secret_id = e.key.secret_id;
    return a;
}

std::vector<issued_credential> sts_state::issued() const {
    std::vector<issued_credential> out;
    out.reserve(order_.size());
    for (const auto& id : order_)
        if (auto it = by_id_.find(id); it != by_id_.end()) out.push_back(it->second.info);
    return out;
}

void sts_state::expire_all(std::int64_t now) {
    for (auto& [id, e] : by_id_) e.info.expired_time = std::min(e.info.expired_time, now);
}

}  // namespace cbs::emu::detail
