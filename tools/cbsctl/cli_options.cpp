// cbsctl: the option syntax every command shares (durations, rates, output
// formats, the connection options), registered on CLI11 apps.
#include "cli.hpp"

#include <CLI/CLI.hpp>

#include <unistd.h>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <random>

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
      ca_file(env_or("CBS_CA_FILE", "")),
      limiter(env_or("CBS_LIMITER", "")) {}

void add_connection_options(CLI::App& cmd, connection_options& o) {
    const std::string g = "Connection";
    cmd.add_option_function<std::string>(
           "--region",
           [&o](const std::string& v) {
               o.region = v;
               o.region_given = true;
           },
           "X-TC-Region ($CBS_REGION, else $TENCENTCLOUD_REGION, else ap-guangzhou)")
        ->default_str(o.region)
        ->group(g);
    cmd.add_option_function<std::string>(
           "--endpoint",
           [&o](const std::string& v) {
               o.endpoint = v;
               o.endpoint_given = true;
           },
           "https://host[:port] ($CBS_ENDPOINT, else https://cbs.tencentcloudapi.com); wins over --intl and "
           "--regional")
        ->default_str(o.endpoint)
        ->group(g);
    cmd.add_flag("--intl", o.intl, "the international site's domain, https://cbs.intl.tencentcloudapi.com")->group(g);
    cmd.add_flag("--regional", o.regional, "the region's own domain, https://cbs.<region>.tencentcloudapi.com")
        ->group(g);
    cmd.add_option_function<std::string>(
           "--proxy",
           [&o](const std::string& v) {
               if (v.empty())
                   throw usage_error("--proxy needs an URL, http://[user:pass@]host:port (--no-proxy for none)");
               o.proxy = v;
           },
           "http://[user:pass@]host:port: tunnel through this HTTP proxy (CONNECT); default $https_proxy, else "
           "$HTTPS_PROXY, unless $no_proxy / $NO_PROXY lists the endpoint's host")
        ->group(g);
    cmd.add_flag("--no-proxy", o.no_proxy, "connect directly, whatever the environment says")->group(g);
    cmd.add_option("--ca-file", o.ca_file, "PEM CA bundle to trust ($CBS_CA_FILE, else the system store)")
        ->capture_default_str()
        ->group(g);
    cmd.add_option("--profile", o.profile,
                   "profile of ~/.tencentcloud/credentials (wins over TENCENTCLOUD_SECRET_ID/_KEY)")
        ->group(g);
    cmd.add_option_function<std::string>(
           "--role-arn",
           [&o](const std::string& v) {
               if (v.empty())
                   throw usage_error("--role-arn needs a role ARN, e.g. qcs::cam::uin/100000000001:roleName/ops");
               o.role_arn = v;
           },
           "assume this role (STS AssumeRole, $CBS_STS_ENDPOINT) with the credentials found; with no keys anywhere: "
           "TKE OIDC (TKE_* variables), then the CVM instance role (metadata service, $CBS_METADATA_ENDPOINT)")
        ->group(g);
    cmd.add_option("--role-session-name", o.role_session_name,
                   "RoleSessionName of the assumed role (default cbs-async)")
        ->group(g);
    add_duration_option(cmd, "--timeout", o.timeout, "one request/response exchange")->group(g);
    cmd.add_option_function<std::string>(
           "--limiter",
           [&o](const std::string& v) {
               std::string why;
               if (!v.empty() && !cbs::parse_limiter_url(v, why)) throw usage_error("--limiter: " + why);
               o.limiter = v;
           },
           "redis://[user:pass@]host:port[/prefix]: share each action's rate limit with every process naming "
           "this Redis ($CBS_LIMITER; default: this process alone)")
        ->group(g);
    cmd.add_option("--limiter-processes", o.limiter_processes,
                   "with --limiter: processes sharing the limit at most; without Redis each paces at 1/N of "
                   "the rate (default: --shard's N, else 2)")
        ->check(CLI::Range(1u, 10000u))
        ->group(g);
    cmd.add_flag("--verbose", o.verbose, "more detail on stderr (never a key or token)")->group(g);
}

std::chrono::milliseconds parse_duration(std::string_view text, std::string_view option, bool allow_zero,
                                         bool unclamped) {
    const auto bad = [&](std::string_view why) {
        return usage_error(std::string(option) + " " + std::string(why) + ", got '" + std::string(text) + "'");
    };
    const std::string syntax = std::string("expects a duration like ") + duration_syntax;
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
    else if (unit == "d")
        per_unit_ms = 86'400'000;
    else
        throw bad(syntax);
    // Saturating: no number of digits overflows. Unclamped ages stop at
    // 100 years.
    const long long cap = unclamped ? 100LL * 365 * 86'400'000 : max_duration.count();
    long long n = 0;
    bool zero = true;
    for (std::size_t i = 0; i < digits; ++i) {
        const int d = text[i] - '0';
        zero = zero && d == 0;
        if (n <= cap) n = n * 10 + d;  // stops growing once past the cap
    }
    if (zero && !allow_zero) throw bad("must be positive");
    if (n > cap / per_unit_ms) return std::chrono::milliseconds(cap);
    return std::chrono::milliseconds(n * per_unit_ms);
}

double parse_rate(std::string_view text, std::string_view option) {
    const auto bad = [&] {
        return usage_error(std::string(option) + " expects a rate like " + rate_syntax + ", got '" + std::string(text) +
                           "'");
    };
    double per = 1;
    std::string_view number = text;
    if (const auto slash = text.find('/'); slash != std::string_view::npos) {
        const auto unit = text.substr(slash + 1);
        number = text.substr(0, slash);
        if (unit == "s")
            per = 1;
        else if (unit == "m")
            per = 60;
        else if (unit == "h")
            per = 3600;
        else
            throw bad();
    }
    // Digits with at most one '.', nothing else (no sign, exponent, hex, inf).
    if (number.empty() || number.find_first_not_of("0123456789.") != std::string_view::npos ||
        number.find('.') != number.rfind('.') || number == ".")
        throw bad();
    const double v = std::strtod(std::string(number).c_str(), nullptr) / per;
    if (!(v > 0) || !std::isfinite(v))
        throw usage_error(std::string(option) + " must be above zero, got '" + std::string(text) + "'");
    if (v > 1e6)
        throw usage_error(std::string(option) + " is above 1000000 requests per second: '" + std::string(text) + "'");
    return v;
}

std::string format_duration(std::chrono::milliseconds d) {
    auto ms = d.count();
    if (ms % 1000 != 0 || ms == 0) return std::to_string(ms) + "ms";
    auto s = ms / 1000;
    std::string out;
    const std::pair<long long, const char*> units[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
    for (auto [len, name] : units)
        if (s >= len) {
            out += std::to_string(s / len) + name;
            s %= len;
        }
    return out;
}

CLI::Option* add_duration_option(CLI::App& cmd, const std::string& name, std::chrono::milliseconds& target,
                                 const std::string& description, bool allow_zero) {
    return cmd
        .add_option_function<std::string>(
            name, [&target, name, allow_zero](const std::string& v) { target = parse_duration(v, name, allow_zero); },
            description)
        ->type_name("DURATION")
        ->default_str(format_duration(target));
}

CLI::Option* add_duration_option(CLI::App& cmd, const std::string& name,
                                 std::optional<std::chrono::milliseconds>& target, const std::string& description,
                                 bool allow_zero, bool unclamped) {
    return cmd
        .add_option_function<std::string>(
            name,
            [&target, name, allow_zero, unclamped](const std::string& v) {
                target = parse_duration(v, name, allow_zero, unclamped);
            },
            description)
        ->type_name("DURATION");
}

CLI::Option* add_output_option(CLI::App& cmd, output_format& target) {
    target = ::isatty(STDOUT_FILENO) ? output_format::table : output_format::json;
    return cmd
        .add_option_function<std::string>(
            "--output,-o",
            [&target](const std::string& v) {
                if (v == "table")
                    target = output_format::table;
                else if (v == "json")
                    target = output_format::json;
                else if (v == "text")
                    target = output_format::text;
                else
                    throw usage_error("--output expects table, json or text, got '" + v + "'");
            },
            "table, json or text (default: table on a terminal, json otherwise)")
        ->type_name("FORMAT");
}

std::pair<std::string, std::string> parse_key_value(std::string_view text, std::string_view option) {
    const auto eq = text.find('=');
    if (eq == std::string_view::npos || eq == 0)
        throw usage_error(std::string(option) + " expects KEY=VALUE, got '" + std::string(text) + "'");
    return {std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
}

std::vector<std::string> split_ids(const std::string& text) {
    std::vector<std::string> out;
    std::string cur;
    bool comment = false;
    for (char ch : text + "\n") {
        if (ch == '\n')
            comment = false;
        else if (ch == '#')
            comment = true;
        if (comment || ch == ',' || ch == '\n' || ch == ' ' || ch == '\t' || ch == '\r') {
            if (!cur.empty()) out.push_back(std::move(cur));
            cur.clear();
        } else {
            cur += ch;
        }
    }
    return out;
}

CLI::Option* non_empty(CLI::Option* opt, const std::string& message) {
    return opt->check(
        CLI::Validator([message](std::string& v) { return v.empty() ? message : std::string(); }, "", "non_empty"));
}

std::string default_run_id() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);
    std::random_device rd;
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "-%06x", rd() & 0xffffffu);
    return std::string(buf) + suffix;
}

bool confirm(const std::string& question) {
    if (!::isatty(STDIN_FILENO) || !::isatty(STDERR_FILENO)) return false;
    std::cerr << question << " [y/N] " << std::flush;
    std::string answer;
    if (!std::getline(std::cin, answer)) return false;
    return answer == "y" || answer == "Y" || answer == "yes" || answer == "YES";
}

cbs::client make_client(boost::asio::any_io_executor ex, cbs::client_params params) {
    try {
        return cbs::client(std::move(ex), std::move(params));
    } catch (const cbs::error& e) {
        throw usage_error(e.diag().to_string(e.code()));
    }
}

}  // namespace cbsctl
