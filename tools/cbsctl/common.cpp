// cbsctl: options shared by the commands that talk to the service.
#include "cli.hpp"

#include <cbs/detail/credential_sources.hpp>

#include <cbs/endpoint.hpp>
#include <cbs/proxy.hpp>

#include <cstdlib>
#include <iostream>

namespace cbsctl {

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

cbs::client_params make_client_params(const connection_options& conn, const std::string& region) {
    connection_options o = conn;
    if (!region.empty()) o.region = region;
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
    if (o.limiter_processes && o.limiter.empty())
        throw usage_error("--limiter-processes needs --limiter (or $CBS_LIMITER)");
    if (!o.limiter.empty()) {
        std::string why;
        if (!cbs::parse_limiter_url(o.limiter, why)) throw usage_error("$CBS_LIMITER / --limiter: " + why);
        params.shared_limiter.url = o.limiter;
        if (o.limiter_processes) params.shared_limiter.expected_processes = o.limiter_processes;
        if (o.verbose)
            params.shared_limiter.on_notice = [](const std::string& text) { std::cerr << "cbsctl: " << text << "\n"; };
    }
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
