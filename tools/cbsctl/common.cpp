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
    if (auto v = a.value("--region"))
        region = *v;
    else if (auto v = a.value("--endpoint"))
        endpoint = *v;
    else if (auto v = a.value("--ca-file"))
        ca_file = *v;
    else if (auto v = a.value("--profile"))
        profile = *v;
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
    params.request_timeout = o.timeout;
    return params;
}

}  // namespace cbsctl
