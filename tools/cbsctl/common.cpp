// cbsctl: options shared by the commands that talk to the service.
#include "cli.hpp"

#include <cbs/detail/credential_sources.hpp>

#include <cbs/endpoint.hpp>
#include <cbs/proxy.hpp>

#include <cstdlib>
#include <iostream>

namespace cbsctl {

namespace {
std::string env_or(const char* name, std::string fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::string(v) : std::move(fallback);
}
}  // namespace

connection_options::connection_options()
    : region(env_or("CBS_REGION", env_or("TENCENTCLOUD_REGION", "ap-guangzhou"))),
      endpoint(env_or("CBS_ENDPOINT", "https://cbs.tencentcloudapi.com")),
      ca_file(env_or("CBS_CA_FILE", "")) {}

bool connection_options::parse(args& a) {
    if (auto v = a.value("--region"))
        region = *v;
    else if (auto v = a.value("--endpoint")) {
        endpoint = *v;
        endpoint_given = true;
    } else if (a.flag("--intl"))
        intl = true;
    else if (a.flag("--regional"))
        regional = true;
    else if (auto v = a.value("--proxy")) {
        if (v->empty()) throw usage_error("--proxy needs an URL, http://[user:pass@]host:port (--no-proxy for none)");
        proxy = *v;
    } else if (a.flag("--no-proxy"))
        no_proxy = true;
    else if (auto v = a.value("--ca-file"))
        ca_file = *v;
    else if (auto v = a.value("--profile"))
        profile = *v;
    else if (auto v = a.value("--role-arn")) {
        if (v->empty()) throw usage_error("--role-arn needs a role ARN, e.g. qcs::cam::uin/100000000001:roleName/ops");
        role_arn = *v;
    } else if (auto v = a.value("--role-session-name"))
        role_session_name = *v;
    else if (auto v = a.value("--timeout"))
        timeout = parse_duration(*v, "--timeout");
    else if (a.flag("--verbose"))
        verbose = true;
    else
        return false;
    return true;
}

std::chrono::milliseconds parse_duration(std::string_view text, std::string_view option) {
    const auto bad = [&](std::string_view why) {
        return usage_error(std::string(option) + " " + std::string(why) + ", got '" + std::string(text) + "'");
    };
    const char* syntax = "expects a duration like 500ms, 90s, 10m or 1h (a bare number is seconds)";
    std::size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    if (!text.empty() && text.front() == '-') throw bad("must be positive");
    if (digits == 0) throw bad(syntax);
    const auto unit = text.substr(digits);
    long long per_unit_ms = 0;
    if (unit == "ms")
        per_unit_ms = 1;
    else if (unit.empty() || unit == "s")
        per_unit_ms = 1000;
    else if (unit == "m")
        per_unit_ms = 60'000;
    else if (unit == "h")
        per_unit_ms = 3'600'000;
    else
        throw bad(syntax);
    // Saturating: no number of digits overflows.
    const long long cap = max_duration.count();
    long long n = 0;
    bool zero = true;
    for (std::size_t i = 0; i < digits; ++i) {
        const int d = text[i] - '0';
        zero = zero && d == 0;
        if (n <= cap) n = n * 10 + d;  // stops growing once past the cap
    }
    if (zero) throw bad("must be positive");
    if (n > cap / per_unit_ms) return max_duration;
    return std::chrono::milliseconds(n * per_unit_ms);
}

namespace {

/// The endpoint URL and where it came from: --endpoint, else --intl or
/// --regional, else $CBS_ENDPOINT or the root domain.
std::pair<std::string, std::string> choose_endpoint(const connection_options& o) {
    if (o.intl && o.regional) throw usage_error("--intl and --regional are exclusive");
    if (o.endpoint_given || (!o.intl && !o.regional)) {
        const char* env = o.endpoint_given ? nullptr : std::getenv("CBS_ENDPOINT");
        return {o.endpoint, o.endpoint_given ? "--endpoint" : env && *env ? "$CBS_ENDPOINT" : "default"};
    }
    std::string url, why;
    const auto choice = o.intl ? cbs::endpoint_choice::international : cbs::endpoint_choice::regional;
    if (!cbs::endpoint_url_for(choice, o.region, url, why)) throw usage_error("--regional: " + why);
    return {url, o.intl ? "--intl" : "--regional"};
}

/// The proxy URL for `endpoint` (empty: direct) and a line for --verbose
/// (host:port only: never the user or password).
std::pair<std::string, std::string> choose_proxy(const connection_options& o, const std::string& endpoint) {
    if (o.no_proxy && !o.proxy.empty()) throw usage_error("--proxy and --no-proxy are exclusive");
    if (o.no_proxy) return {"", "none (--no-proxy)"};
    std::string url = o.proxy, source = "--proxy";
    if (url.empty()) {
        auto c = cbs::choose_proxy_from_env(endpoint);
        if (c.url.empty())
            return {"", c.bypass_by.empty() ? "none" : "none ($" + c.bypass_by + " lists the endpoint's host)"};
        url = std::move(c.url);
        source = "$" + c.variable;
    }
    cbs::proxy_url parsed;
    std::string why;
    if (!cbs::parse_proxy_url(url, parsed, why)) throw usage_error(source + ": " + why);
    return {url, parsed.host_port() + " (" + source + ")"};
}

}  // namespace

cbs::client_params make_client_params(const connection_options& o) {
    auto [endpoint, endpoint_source] = choose_endpoint(o);
    auto [proxy, proxy_line] = choose_proxy(o, endpoint);
    if (o.verbose) {
        std::cerr << "cbsctl: endpoint " << endpoint << " (" << endpoint_source << ")\n";
        std::cerr << "cbsctl: proxy " << proxy_line << "\n";
    }
    cbs::credentials_options copts;
    copts.profile = o.profile;
    cbs::error_code ec;
    cbs::diagnostics cdiag;
    // Long-lived keys are used as they are; a role, or no keys anywhere,
    // means the default chain (which finds the same keys first, then TKE OIDC
    // and the CVM role).
    auto found = cbs::detail::lookup_static_credentials(copts, ec, cdiag);
    if (ec) throw usage_error(cdiag.to_string(ec));
    if (!found.warning.empty()) std::cerr << "cbsctl: warning: " << found.warning << "\n";
    const bool use_chain = found.what != cbs::detail::static_lookup::keys || !o.role_arn.empty();
    if (!o.role_session_name.empty() && !use_chain)
        throw usage_error("--role-session-name needs a role (--role-arn or a profile's role_arn)");
    cbs::client_params params;
    params.region = o.region;
    params.endpoint = std::move(endpoint);
    params.pool.proxy = std::move(proxy);
    params.pool.ca_file = o.ca_file;
    params.request_timeout = o.timeout;
    if (use_chain) {
        cbs::detail::wipe_secret(found.creds.secret_key);
        cbs::detail::wipe_secret(found.creds.token);
        cbs::credential_chain_params chain;
        chain.files = copts;
        chain.role_arn = o.role_arn;
        if (!o.role_session_name.empty()) chain.role_session_name = o.role_session_name;
        chain.sts_pool = params.pool;  // the same CA file and timeouts for STS
        const char* sts_env = std::getenv("CBS_STS_ENDPOINT");
        chain.sts_pool.proxy =
            o.no_proxy ? std::string()
            : !o.proxy.empty()
                ? o.proxy
                : cbs::proxy_from_env(sts_env && *sts_env ? std::string(sts_env)
                                                          : std::string("https://sts.tencentcloudapi.com"));
        try {
            params.credentials_provider = cbs::make_default_credential_chain(std::move(chain));
        } catch (const cbs::error& e) {
            throw usage_error(e.diag().to_string(e.code()));
        }
    } else {
        params.creds = std::move(found.creds);
    }
    return params;
}

}  // namespace cbsctl
