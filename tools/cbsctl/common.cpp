// cbsctl: options shared by the commands that talk to the service.
#include "cli.hpp"

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
    : region(env_or("TENCENTCLOUD_REGION", "ap-guangzhou")),
      endpoint(env_or("CBS_ENDPOINT", "https://cbs.tencentcloudapi.com")),
      ca_file(env_or("CBS_CA_FILE", "")) {}

bool connection_options::parse(args& a) {
    if (auto v = a.value("--region")) region = *v;
    else if (auto v = a.value("--endpoint")) endpoint = *v;
    else if (auto v = a.value("--ca-file")) ca_file = *v;
    else if (auto v = a.value("--profile")) profile = *v;
    else if (auto v = a.value("--timeout")) timeout_s = parse_number("--timeout", *v);
    else if (a.flag("--verbose")) verbose = true;
    else return false;
    if (timeout_s == 0) throw usage_error("--timeout must be at least 1 second");
    return true;
}

cbs::client_params make_client_params(const connection_options& o) {
    cbs::credentials_options copts;
    copts.profile = o.profile;
    cbs::error_code ec;
    cbs::diagnostics cdiag;
    auto creds = cbs::resolve_credentials(copts, ec, cdiag);
    if (ec) throw usage_error(cdiag.to_string(ec));
    if (!cdiag.client_message.empty()) std::cerr << "cbsctl: warning: " << cdiag.client_message << "\n";
    cbs::client_params params;
    params.region = o.region;
    params.endpoint = o.endpoint;
    params.creds = std::move(creds);
    params.pool.ca_file = o.ca_file;
    params.request_timeout = std::chrono::seconds(o.timeout_s);
    return params;
}

}  // namespace cbsctl
