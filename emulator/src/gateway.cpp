// The request pipeline: protocol -> headers -> auth -> action/version/region
// -> rate limit -> body -> faults -> action (see emulator.hpp).
#include "gateway.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace cbs::emu::detail {
namespace json = boost::json;

namespace {

constexpr std::string_view api_version = "2017-03-12";
constexpr std::uint64_t delay_seed_salt = 0x9e3779b97f4a7c15ULL;

char lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool is_json_media_type(std::string_view ct) noexcept {
    std::string_view media = trim(ct.substr(0, ct.find(';')));
    constexpr std::string_view want = "application/json";
    if (media.size() != want.size()) return false;
    for (std::size_t i = 0; i < want.size(); ++i)
        if (lower(media[i]) != want[i]) return false;
    return true;
}

bool parse_timestamp(std::string_view s, std::int64_t& out) noexcept {
    if (s.empty() || s.size() > 18 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && p == s.data() + s.size();
}

std::int64_t system_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

api_failure throttle_failure(const std::string& code, const std::string& action, std::size_t n, unsigned limit) {
    const std::string rate =
        "'" + std::to_string(n) + "' per second, over the limit of '" + std::to_string(limit) + "'";
    std::string m;
    if (code.ends_with(".UinLimitExceeded"))
        m = "The request rate of your account (UIN) for `" + action + "` is " + rate + "; please retry later.";
    else if (code.ends_with(".IPLimitExceeded"))
        m = "The request rate from your IP address for `" + action + "` is " + rate + "; please retry later.";
    else if (code.ends_with(".GlobalRegionUinLimitExceeded"))
        m = "The request rate of your main account (UIN) across regions for `" + action + "` is " + rate +
            "; please retry later.";
    else
        m = "Your current request rate of `" + action + "` is " + rate + "; please retry later.";
    return {code, std::move(m)};
}

api_failure missing(std::string_view header) {
    return {"MissingParameter", "The request is missing a required parameter `" + std::string(header) + "`."};
}

}  // namespace

std::string make_uuid_v4(std::mt19937_64& rng) {
    std::uint64_t hi = rng(), lo = rng();
    hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
    lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    auto put = [&](std::uint64_t v, int nibbles) {
        for (int i = nibbles - 1; i >= 0; --i) out.push_back(hex[(v >> (4 * i)) & 0xf]);
    };
    put(hi >> 32, 8);
    out.push_back('-');
    put((hi >> 16) & 0xffff, 4);
    out.push_back('-');
    put(hi & 0xffff, 4);
    out.push_back('-');
    put(lo >> 48, 4);
    out.push_back('-');
    put(lo & 0xffffffffffffULL, 12);
    return out;
}

gateway::gateway(const emulator_params& params, std::vector<account> accounts)
    : params_(params),
      accounts_(std::move(accounts)),
      ids_(std::make_shared<id_registry>()),
      fault_rng_(params.faults.seed),
      delay_rng_(params.faults.seed ^ delay_seed_salt),
      throttle_rng_(params.rate_limits.seed),
      sts_(params),
      id_rng_(std::random_device{}()) {
    for (const auto& a : accounts_) uin_of_[a.secret_id] = a.uin.empty() ? "key:" + a.secret_id : "uin:" + a.uin;
    if (params_.regions.empty()) params_.regions = cbs_regions();
    if (!params_.unix_time)
        params_.unix_time = [] {
            return static_cast<std::int64_t>(
                std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                    .count());
        };
    if (!params_.steady_now) params_.steady_now = [] { return clock::now(); };
    build_fleets();
}

void gateway::open_log(const std::string& path) {
    std::lock_guard lock(mu_);
    log_file_.open(path, std::ios::app);
    if (!log_file_) throw std::runtime_error("cbs emulator: cannot open log file " + path);
}

unsigned gateway::limit_for(std::string_view action) const {
    if (auto it = params_.rate_limits.overrides.find(action); it != params_.rate_limits.overrides.end())
        return it->second;
    return documented_rate_limit(action, params_.rate_limits.default_limit);
}

std::string gateway::envelope(const json::object& response, const std::string& request_id) const {
    json::object r = response;
    r["RequestId"] = request_id;
    json::object env;
    env["Response"] = std::move(r);
    return json::serialize(env);
}

std::string gateway::error_envelope(const api_failure& f, const std::string& request_id) const {
    json::object r;
    r["Error"] = json::object{{"Code", f.code}, {"Message", utf8_safe(f.message)}};
    r["RequestId"] = request_id;
    json::object env;
    env["Response"] = std::move(r);
    return json::serialize(env);
}

void gateway::record(request_record rec) {
    if (log_file_.is_open()) {
        json::object line{{"time_ms", rec.time_ms},
                          {"action", utf8_safe(rec.action)},
                          {"outcome", rec.outcome},
                          {"request_id", rec.request_id},
                          {"secret_id", utf8_safe(rec.secret_id)},
                          {"fault", rec.fault},
                          {"delay_ms", rec.delay_ms},
                          {"throttled", rec.throttled},
                          {"issued_secret_id", rec.issued_secret_id},
                          {"region", utf8_safe(rec.region)}};
        log_file_ << json::serialize(line) << '\n';
        log_file_.flush();
    }
    log_.push_back(std::move(rec));
    while (log_.size() > params_.max_log_records) log_.pop_front();
}

reply_plan gateway::handle(const incoming_request& req, tc3_signer& signer) {
    std::lock_guard lock(mu_);
    const auto now = params_.steady_now();
    request_record rec;
    rec.time_ms = system_ms();
    rec.arrival = now;
    rec.request_id = make_uuid_v4(id_rng_);
    const auto action_h = find_header(req.headers, "X-TC-Action");
    if (action_h) rec.action = std::string(*action_h);

    reply_plan plan;
    auto fail = [&](const api_failure& f) {
        rec.outcome = f.code;
        plan.body = error_envelope(f, rec.request_id);
        record(std::move(rec));
        return plan;
    };

    // 1. Protocol and size.
    if (req.method != "GET" && req.method != "POST")
        return fail({"UnsupportedProtocol", "The HTTP method `" + std::string(req.method).substr(0, 20) +
                                                "` is not supported; use GET or POST."});
    if (req.body_too_large || req.body.size() > params_.max_body) {
        plan.close = true;
        return fail({"RequestSizeLimitExceeded",
                     "The request body exceeds the limit of " + std::to_string(params_.max_body) + " bytes."});
    }

    // 2. Common parameters (headers).
    const auto version = find_header(req.headers, "X-TC-Version");
    const auto ts_text = find_header(req.headers, "X-TC-Timestamp");
    const auto region = find_header(req.headers, "X-TC-Region");
    if (!action_h || action_h->empty()) return fail(missing("X-TC-Action"));
    if (!version || version->empty()) return fail(missing("X-TC-Version"));
    if (!ts_text || ts_text->empty()) return fail(missing("X-TC-Timestamp"));
    if (region) rec.region = std::string(region->substr(0, 100));
    if (!region || region->empty()) return fail(missing("X-TC-Region"));
    std::int64_t ts = 0;
    if (!parse_timestamp(*ts_text, ts))
        return fail({"InvalidParameterValue", "The value of `X-TC-Timestamp` is not a unix time in seconds: `" +
                                                  std::string(ts_text->substr(0, 40)) + "`."});
    if (req.method == "POST") {
        const auto ct = find_header(req.headers, "Content-Type");
        if (!ct || !is_json_media_type(*ct))
            return fail({"InvalidParameter", "A POST request must have `Content-Type: application/json` (got `" +
                                                 std::string(ct ? ct->substr(0, 60) : "") + "`)."});
    }

    // 3. Authentication. The service takes the credential scope's service
    // from the host's first label (cbs., sts.); here both share one host, so
    // the action says which is meant. AssumeRoleWithWebIdentity may be
    // unsigned (`Authorization: SKIP`, as the SDKs send it).
    const std::string action(*action_h);
    const bool sts_call = is_sts_action(action);
    const bool sts_family = is_sts_family(action);  // includes STS actions the emulator does not serve
    const auto authz = find_header(req.headers, "Authorization");
    const bool unsigned_call = action == "AssumeRoleWithWebIdentity" && authz && trim(*authz) == "SKIP";
    auth_input ai;
    ai.method = req.method;
    ai.target = req.target;
    ai.headers = req.headers;
    ai.body = req.body;
    ai.timestamp = ts;
    ai.timestamp_text = *ts_text;
    ai.now = params_.unix_time();
    ai.max_skew = params_.max_skew;
    ai.service = sts_family ? "sts" : "cbs";
    if (!unsigned_call) {
        auto auth = verify_tc3_with(
            ai, [this](std::string_view id) { return find_key(id); }, signer);
        rec.secret_id = auth.secret_id;
        if (auth.error) return fail(*auth.error);
        if (sts_.expired(auth.secret_id, ai.now))
            return fail({"AuthFailure.TokenFailure",
                         "The token has expired (temporary credentials of SecretId " + auth.secret_id + ")."});
    }

    // 4. Action, version, region.
    if (!fleet_state::known_action(action) && !sts_call)
        return fail({"InvalidAction", "The action `" + action.substr(0, 60) + "` is not supported or does not exist."});
    if (*version != (sts_family ? sts_version : api_version))
        return fail({"NoSuchVersion", "The requested version `" + std::string(version->substr(0, 20)) +
                                          "` of service `" + (sts_family ? "sts" : "cbs") + "` does not exist."});
    if (std::find(params_.regions.begin(), params_.regions.end(), *region) == params_.regions.end())
        return fail({"UnsupportedRegion", "The region `" + std::string(region->substr(0, 40)) +
                                              "` is not supported by the action `" + action + "`."});

    // 5. Rate limit per (SecretId or account, action[, region]).
    if (params_.rate_limits.enabled) {
        const unsigned limit = limit_for(action);
        const std::string key = window_key(rec.secret_id, action, *region);
        if (!windows_.try_admit(key, limit, now, params_.rate_limits.window)) {
            const auto n = windows_.count(key, now, params_.rate_limits.window) + 1;
            rec.throttled = true;
            return fail(throttle_failure(draw_throttle_code(), action, n, limit));
        }
    }

    // 6. Parameters.
    json::object params;
    if (req.method == "POST") {
        boost::system::error_code ec;
        json::value v = json::parse(req.body, ec);
        if (ec || !v.is_object())
            return fail({"InvalidParameter", ec ? "The request body is not valid JSON: " + ec.message() + "."
                                                : std::string("The request body must be a JSON object.")});
        params = std::move(v.as_object());
    } else {
        const auto q = req.target.find('?');
        std::string why;
        if (q != std::string_view::npos && !query_to_params(req.target.substr(q + 1), params, why))
            return fail({"InvalidParameter", "The query string is malformed: " + why + "."});
    }

    // 7. Faults.
    const fault_draw fd = draw_fault(action);
    if (fd.latency) {
        plan.delay += draw_fault_delay(false);
        rec.fault = "latency";
        rec.delay_ms = plan.delay.count();
    }
    if (fd.kind == "transient") {
        rec.fault = fd.kind;
        return fail({fd.transient_code, "An injected transient error (emulator fault)."});
    }
    if (fd.kind == "gateway_502" || fd.kind == "reset_before") {
        rec.fault = fd.kind;
        rec.outcome = fd.kind == "gateway_502" ? "HTTP 502" : "reset";
        plan.what = fd.kind == "gateway_502" ? reply_plan::kind::gateway_502 : reply_plan::kind::reset;
        plan.close = true;
        record(std::move(rec));
        return plan;
    }

    // 8. The action.
    action_result r;
    if (sts_call) {
        auto o = run_sts(action, params, rec.secret_id, ai.now);
        r = std::move(o.result);
        rec.issued_secret_id = std::move(o.issued_secret_id);
    } else {
        r = fleet_for(*region).handle(action, params, now);
        if (!r.error && action != "DescribeDisks" && action != "DescribeSnapshotGroups" &&
            action != "DescribeSnapshots")
            changed();
    }
    if (fd.kind == "reset_after" || fd.kind == "slow") rec.fault = fd.kind;
    if (fd.kind == "reset_after") {
        rec.outcome = r.error ? r.error->code : "ok";
        plan.what = reply_plan::kind::reset;
        plan.close = true;
        record(std::move(rec));
        return plan;
    }
    if (fd.kind == "slow") plan.delay += draw_fault_delay(true);
    rec.delay_ms = plan.delay.count();
    if (r.error) return fail(*r.error);
    rec.outcome = "ok";
    plan.body = envelope(r.response, rec.request_id);
    record(std::move(rec));
    return plan;
}

std::vector<request_record> gateway::request_log() const {
    std::lock_guard lock(mu_);
    return {log_.begin(), log_.end()};
}

void gateway::clear_request_log() {
    std::lock_guard lock(mu_);
    log_.clear();
}

void gateway::set_faults(fault_params f) {
    std::lock_guard lock(mu_);
    fault_rng_.seed(f.seed);
    delay_rng_.seed(f.seed ^ delay_seed_salt);
    params_.faults = std::move(f);
}

void gateway::set_rate_limits(rate_limit_params r) {
    std::lock_guard lock(mu_);
    throttle_rng_.seed(r.seed);
    params_.rate_limits = std::move(r);
}

std::vector<account> gateway::accounts() const {
    std::lock_guard lock(mu_);
    return accounts_;
}

}  // namespace cbs::emu::detail
