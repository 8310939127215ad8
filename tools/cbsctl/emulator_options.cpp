// cbsctl emulator: its options on CLI11, each validated as it is read (a bad
// value is a usage error naming the option, exit 2), and the checks across
// options once parsing is done (emulator_cmd.hpp).
#include "emulator_cmd.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <limits>
#include <random>
#include <stdexcept>

namespace cbsctl::emulator_cli {

namespace {

/// An option whose value goes through `f` (which throws usage_error naming
/// the option for a bad value).
CLI::Option* opt(CLI::App* cmd, const std::string& name, const std::function<void(const std::string&)>& f,
                 const std::string& type, const std::string& description, const std::string& group) {
    return cmd->add_option_function<std::string>(name, f, description)->type_name(type)->group(group);
}

/// An old spelling that took bare milliseconds, kept working for existing
/// scripts: hidden from --help (group ""), warned about with the new
/// spelling (`f` returns the value in the new syntax), refused together
/// with its replacement.
void deprecated_alias(CLI::App* cmd, const std::string& name, CLI::Option* replacement,
                      std::function<std::string(const std::string&)> f) {
    const std::string new_name = replacement->get_name();
    cmd->add_option_function<std::string>(
           name,
           [name, new_name, replacement, f = std::move(f)](const std::string& v) {
               if (replacement->count() > 0)
                   throw usage_error(name + " is the deprecated spelling of " + new_name + ": give only " + new_name);
               const std::string now = f(v);
               std::cerr << "cbsctl: warning: " << name << " is deprecated, use " << new_name << " " << now << "\n";
           },
           "deprecated: " + new_name + " in milliseconds")
        ->group("");
}

/// "20ms-200ms" (or "20ms") in the duration syntax.
std::string format_range(std::chrono::milliseconds lo, std::optional<std::chrono::milliseconds> hi) {
    return format_duration(lo) + (hi ? "-" + format_duration(*hi) : std::string());
}

void add_fleet_options(CLI::App* cmd, emulator_options& o) {
    const std::string g = "Fleet";
    auto& p = o.p;
    opt(
        cmd, "--instances",
        [&p](const std::string& v) {
            p.fleet.instances = static_cast<std::size_t>(parse_bounded("--instances", v, 0, 1'000'000));
        },
        "N", "instances in each region's synthetic fleet (default 200)", g);
    opt(
        cmd, "--seed",
        [&p](const std::string& v) {
            p.fleet.seed =
                static_cast<std::uint64_t>(parse_bounded("--seed", v, 0, std::numeric_limits<long long>::max()));
        },
        "S", "seed of the fleet (default 1; another region's fleet is seeded from it and the region's name)", g);
    opt(
        cmd, "--region",
        [&p](const std::string& v) {
            if (v.empty()) throw usage_error("--region needs a region name, e.g. ap-guangzhou");
            p.fleet.region = v;
        },
        "R", "region of the fleet (default ap-guangzhou; regions not given here or in --regions are empty)", g);
    opt(
        cmd, "--regions",
        [&p](const std::string& v) {
            p.fleet_regions = split_commas(v);
            const auto& known = cbs::emu::cbs_regions();
            for (const auto& r : p.fleet_regions)
                if (std::find(known.begin(), known.end(), r) == known.end())
                    throw usage_error("--regions: '" + r + "' is not a CBS region (e.g. ap-guangzhou, ap-shanghai)");
            if (p.fleet_regions.empty())
                throw usage_error("--regions needs region names, e.g. ap-guangzhou,ap-shanghai");
        },
        "R1,R2,...",
        "more regions with the same fleet, each with its own state and ids (a request's X-TC-Region "
        "picks the state)",
        g);
    opt(
        cmd, "--snapshot-quota",
        [&p](const std::string& v) {
            p.fleet.snapshot_quota = static_cast<std::size_t>(parse_bounded("--snapshot-quota", v, 0, 1'000'000'000));
        },
        "N",
        "live snapshots each region may hold; over it CreateSnapshotGroup answers InsufficientSnapshotQuota "
        "(default 0: unlimited)",
        g);
    add_duration_option(*cmd, "--rollback-time", o.rollback_time,
                        "how long ApplySnapshotGroup keeps the group and its disks ROLLBACKING (times --time-scale)",
                        true)
        ->group(g);
    auto* creating = opt(
        cmd, "--creating-time",
        [&p](const std::string& v) { p.fleet.creating_time = parse_delay("--creating-time", v); }, "DURATION",
        "how long a snapshot group stays CREATING, e.g. 200ms, 3s (default 3s; 0: NORMAL at once; at most 1d)", g);
    deprecated_alias(cmd, "--creating-ms", creating, [&p](const std::string& v) {
        p.fleet.creating_time = parse_ms("--creating-ms", v);
        return format_duration(p.fleet.creating_time);
    });
    auto* lag = opt(
        cmd, "--list-lag", [&p](const std::string& v) { p.fleet.list_lag = parse_delay("--list-lag", v); }, "DURATION",
        "a new snapshot group is missing from DescribeSnapshotGroups (and its snapshots from DescribeSnapshots) for "
        "this long, e.g. 1s, 8s (default 0: listed at once; at most 1d)",
        g);
    deprecated_alias(cmd, "--list-lag-ms", lag, [&p](const std::string& v) {
        p.fleet.list_lag = parse_ms("--list-lag-ms", v);
        return format_duration(p.fleet.list_lag);
    });
    cmd->add_flag_callback(
           "--realistic", [&p] { p.fleet.realistic = true; },
           "seeded odd disks: a few instances each with a disk migrating, rolling back, attaching or "
           "detaching (refused by CreateSnapshotGroup until the change ends, seconds to minutes in), "
           "instances with 8-20 data disks; implies --uneven-creation")
        ->group(g);
    cmd->add_flag_callback(
           "--uneven-creation", [&p] { p.fleet.uneven_creation = true; },
           "each group's creation time drawn around --creating-time with a long tail (up to 100 x), "
           "Percent rising unevenly")
        ->group(g);
    opt(
        cmd, "--time-scale", [&p](const std::string& v) { p.fleet.time_scale = parse_time_scale(v); }, "X",
        "multiply every seeded duration, --creating-time and --rollback-time by X (default 1; 0.1 runs a realistic "
        "timeline ten times faster)",
        g);
    opt(
        cmd, "--failed-fraction",
        [&p](const std::string& v) { p.fleet.failed_fraction = parse_probability("--failed-fraction", v); }, "P",
        "share of snapshot groups that end FAILED (default 0)", g);
    opt(
        cmd, "--odd-fraction",
        [&p](const std::string& v) {
            p.fleet.odd_fraction = parse_probability("--odd-fraction", v);
            if (p.fleet.odd_fraction > 0.2) throw usage_error("--odd-fraction must be at most 0.2, got '" + v + "'");
        },
        "P", "share of the instances per odd-disk kind with --realistic (default 0.03, at most 0.2)", g);
    opt(
        cmd, "--state-dir",
        [&p](const std::string& v) {
            if (v.empty()) throw usage_error("--state-dir needs a directory");
            p.state_dir = v;
            p.persist_state = true;
        },
        "DIR",
        "where the CA and server certificate live, and the fleet state (state.json: every region's "
        "instances, disks, groups, snapshots), saved while running and at exit and loaded at the next start "
        "(default: a temporary directory, nothing kept)",
        g);
}

void add_key_options(CLI::App* cmd, emulator_options& o) {
    const std::string g = "Keys";
    opt(
        cmd, "--secret-id", [&o](const std::string& v) { o.acct.secret_id = v; }, "ID",
        "the SecretId of the accepted key (default: a random key, printed); its key from --secret-key-file FILE "
        "(first line), else $CBS_EMULATOR_SECRET_KEY, else --secret-key KEY",
        g);
    opt(
        cmd, "--secret-key",
        [&o](const std::string& v) {
            std::cerr << "cbsctl: warning: --secret-key is visible to every user of this machine in the process "
                         "list; use --secret-key-file FILE or CBS_EMULATOR_SECRET_KEY\n";
            o.secret_key = v;
        },
        "KEY", "the key itself (visible to every user in the process list: warned)", g);
    opt(
        cmd, "--secret-key-file", [&o](const std::string& v) { o.key_file = v; }, "FILE", "the key, first line of FILE",
        g);
    opt(
        cmd, "--token", [&o](const std::string& v) { o.acct.token = v; }, "T",
        "the key is temporary credentials: requests must carry this X-TC-Token", g);
    cmd->add_option_function<std::vector<std::string>>(
           "--credentials",
           [&o](const std::vector<std::string>& vs) {
               std::cerr << "cbsctl: warning: --credentials is visible to every user of this machine in the process "
                            "list; use --credentials-file FILE\n";
               for (const auto& v : vs) try {
                       for (auto& c : cbs::emu::parse_accounts(v)) o.more.push_back(std::move(c));
                   } catch (const std::invalid_argument& e) {
                       throw usage_error(std::string("--credentials: ") + e.what());
                   }
           },
           "more accepted keys: [UIN/]ID:KEY[:TOKEN],... (UIN: the main account)")
        ->type_name("LIST")
        ->group(g);
    cmd->add_option_function<std::vector<std::string>>(
           "--credentials-file",
           [&o](const std::vector<std::string>& vs) {
               for (const auto& v : vs) try {
                       for (auto& c : cbs::emu::parse_accounts(read_secret_file("--credentials-file", v)))
                           o.more.push_back(std::move(c));
                   } catch (const std::invalid_argument& e) {
                       throw usage_error("--credentials-file '" + v + "': " + e.what());
                   }
           },
           "the same from a file, one entry per line, # comments")
        ->type_name("FILE")
        ->group(g);
}

void add_rate_options(CLI::App* cmd, emulator_options& o) {
    const std::string g = "Rate limits";
    auto& r = o.p.rate_limits;
    opt(
        cmd, "--rate-scope",
        [&r](const std::string& v) {
            if (v == "key")
                r.scope = cbs::emu::rate_scope::secret_id;
            else if (v == "account")
                r.scope = cbs::emu::rate_scope::account;
            else
                throw usage_error("--rate-scope expects key or account, got '" + v + "'");
        },
        "key|account", "key: each SecretId has its own rate windows (default); account: the keys of one UIN share them",
        g);
    cmd->add_flag_callback(
           "--per-region-limits", [&r] { r.per_region = true; },
           "each region its own rate windows (default: one window per key or account and action "
           "across every region, the conservative reading of GlobalRegionUinLimitExceeded)")
        ->group(g);
    opt(
        cmd, "--throttle-codes", [&r](const std::string& v) { r.throttle_codes = parse_throttle_codes(v); },
        "CODE[=W],...",
        "refusal codes drawn per refused request, with weights (default RequestLimitExceeded=0.55,"
        ".UinLimitExceeded=0.2,.IPLimitExceeded=0.15,.GlobalRegionUinLimitExceeded=0.1; a code "
        "starting with '.' is a sub-code)",
        g);
    opt(
        cmd, "--throttle-seed",
        [&r](const std::string& v) {
            r.seed = static_cast<std::uint64_t>(
                parse_bounded("--throttle-seed", v, 0, std::numeric_limits<long long>::max()));
        },
        "S", "seed of the refusal-code draw (default 1)", g);
    cmd->add_flag_callback(
           "--no-rate-limit", [&r] { r.enabled = false; },
           "do not enforce the per-action limits (20/s, DescribeDisks 100/s)")
        ->group(g);
    cmd->add_option_function<std::vector<std::string>>(
           "--rate",
           [&r](const std::vector<std::string>& vs) {
               for (const auto& v : vs) {
                   const auto eq = v.find('=');
                   if (eq == std::string::npos || eq == 0)
                       throw usage_error("--rate expects ACTION=RATE, got '" + v + "'");
                   const std::string action = v.substr(0, eq);
                   r.overrides[action] = parse_action_rate("--rate " + action, v.substr(eq + 1), r.window);
               }
           },
           "override one action's limit: RATE in the rate syntax of every cbsctl command (20, 20/s, 1200/m, "
           "72000/h), a whole number of requests per second, e.g. CreateSnapshotGroup=10 or DescribeDisks=1200/m "
           "(0 = unlimited; repeatable)")
        ->type_name("ACTION=RATE")
        ->group(g);
}

void add_fault_options(CLI::App* cmd, emulator_options& o) {
    const std::string g = "Faults";
    auto& rule = o.rule;
    auto& f = o.p.faults;
    const std::pair<const char*, double cbs::emu::fault_rule::*> kinds[] = {
        {"--fault-transient", &cbs::emu::fault_rule::transient},
        {"--fault-502", &cbs::emu::fault_rule::gateway_502},
        {"--fault-reset-before", &cbs::emu::fault_rule::reset_before},
        {"--fault-reset-after", &cbs::emu::fault_rule::reset_after},
        {"--fault-slow", &cbs::emu::fault_rule::slow},
        {"--fault-latency", &cbs::emu::fault_rule::latency}};
    const char* what[] = {"a transient error code",        "a gateway 502", "a reset before the action runs",
                          "a reset after the action runs", "a slow answer", "added latency"};
    for (std::size_t i = 0; i < std::size(kinds); ++i) {
        const std::string name = kinds[i].first;
        const auto member = kinds[i].second;
        opt(
            cmd, name, [&rule, name, member](const std::string& v) { rule.*member = parse_probability(name, v); }, "P",
            std::string("probability (0..1) of ") + what[i] + " per request", g);
    }
    opt(
        cmd, "--fault-action", [&o](const std::string& v) { o.fault_action = v; }, "ACTION",
        "apply the --fault-* options to this action only (default: every action)", g);
    opt(
        cmd, "--fault-seed",
        [&f](const std::string& v) {
            f.seed =
                static_cast<std::uint64_t>(parse_bounded("--fault-seed", v, 0, std::numeric_limits<long long>::max()));
        },
        "S", "seed of the fault RNG (default 1)", g);
    const auto set_latency = [&f](std::chrono::milliseconds lo, std::optional<std::chrono::milliseconds> hi) {
        f.latency = lo;
        f.latency_max = hi;
        return format_range(lo, hi);
    };
    auto* latency = opt(
        cmd, "--latency",
        [set_latency](const std::string& v) {
            auto [lo, hi] = parse_delay_range("--latency", v);
            set_latency(lo, hi);
        },
        "DURATION|MIN-MAX",
        "latency added by --fault-latency: D (D to 2 x D) or MIN-MAX, e.g. 200ms or 20ms-200ms, drawn per "
        "request, long-tailed (default 200ms, i.e. 200ms-400ms)",
        g);
    deprecated_alias(cmd, "--latency-ms", latency, [set_latency](const std::string& v) {
        auto [lo, hi] = parse_ms_range("--latency-ms", v);
        return set_latency(lo, hi);
    });
    const auto set_slow = [&f](std::chrono::milliseconds lo, std::optional<std::chrono::milliseconds> hi) {
        f.slow_delay = hi ? *hi : lo;
        f.slow_delay_min = hi ? std::optional(lo) : std::nullopt;
        return format_range(lo, hi);
    };
    auto* slow = opt(
        cmd, "--slow",
        [set_slow](const std::string& v) {
            auto [lo, hi] = parse_delay_range("--slow", v);
            set_slow(lo, hi);
        },
        "DURATION|MIN-MAX",
        "delay of a slow answer: D (D/2 to D) or MIN-MAX, e.g. 35s or 500ms-1s, drawn per request, uniform "
        "(default 35s, i.e. 17500ms-35s); 2s-2s for a fixed delay",
        g);
    deprecated_alias(cmd, "--slow-ms", slow, [set_slow](const std::string& v) {
        auto [lo, hi] = parse_ms_range("--slow-ms", v);
        return set_slow(lo, hi);
    });
}

void add_role_options(CLI::App* cmd, emulator_options& o) {
    const std::string g = "Roles and metadata";
    auto& p = o.p;
    cmd->add_option_function<std::vector<std::string>>(
           "--roles",
           [&o](const std::vector<std::string>& vs) {
               o.roles_given = true;
               for (const auto& v : vs)
                   for (auto& r : split_commas(v)) o.p.roles.push_back(std::move(r));
           },
           std::string("role ARNs STS AssumeRole accepts, qcs::cam::uin/<digits>:roleName/<name> (default ") +
               default_role + "; repeatable)")
        ->type_name("ARN,...")
        ->group(g);
    opt(
        cmd, "--temp-lifetime", [&p](const std::string& v) { p.temp_credential_lifetime = parse_temp_lifetime(v); },
        "DURATION",
        "lifetime of the temporary credentials issued, e.g. 20s, 10m, 2h (1s to 12h, whole seconds; "
        "default 2h; STS issues min(DurationSeconds, this))",
        g);
    cmd->add_flag_callback(
           "--metadata", [&p] { p.metadata = true; }, "serve the CVM metadata service (plain HTTP on 127.0.0.1)")
        ->group(g);
    opt(
        cmd, "--metadata-port",
        [&p](const std::string& v) {
            p.metadata = true;
            p.metadata_port = static_cast<std::uint16_t>(parse_bounded("--metadata-port", v, 0, 65535));
        },
        "N", "its port (default 0, an ephemeral port; implies --metadata)", g);
    opt(
        cmd, "--metadata-role",
        [&o](const std::string& v) {
            o.p.metadata = true;
            o.metadata_role = v;
        },
        "NAME", "the role it serves (default: the first role's name; '' binds no role; implies --metadata)", g);
    opt(
        cmd, "--oidc-provider-id",
        [&p](const std::string& v) {
            if (v.empty()) throw usage_error("--oidc-provider-id must not be empty");
            p.oidc_provider_id = v;
        },
        "ID", "accept AssumeRoleWithWebIdentity from this identity provider", g);
    opt(
        cmd, "--oidc-token-file", [&o](const std::string& v) { o.oidc_token_file = v; }, "FILE",
        "the web identity token it accepts, first line of FILE (default: a random token written to "
        "web-identity-token in the state directory, mode 0600)",
        g);
}

std::string random_token(std::size_t n) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::random_device rd;
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s.push_back(alphabet[rd() % (sizeof alphabet - 1)]);
    return s;
}

}  // namespace

void add_emulator_options(CLI::App* cmd, emulator_options& o) {
    // As before CLI11: an option given twice keeps its last value (--rate,
    // --credentials, --credentials-file and --roles add up).
    cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    opt(
        cmd, "--listen", [&o](const std::string& v) { parse_listen(v, o.p); }, "ADDR:PORT",
        "address and port (default 127.0.0.1:0, an ephemeral port; [::1]:PORT for IPv6)", "Server");
    opt(
        cmd, "--log", [&o](const std::string& v) { o.p.log_file = v; }, "FILE",
        "append a JSON line per request (time, action, outcome, RequestId, SecretId, region, fault, delay_ms, "
        "throttled, issued_secret_id)",
        "Server");
    add_fleet_options(cmd, o);
    add_key_options(cmd, o);
    add_rate_options(cmd, o);
    add_fault_options(cmd, o);
    add_role_options(cmd, o);
    for (auto* option : cmd->get_options())
        if (option->get_name() == "--rate" || option->get_name() == "--credentials" ||
            option->get_name() == "--credentials-file" || option->get_name() == "--roles")
            option->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

/// The checks that involve several options, then the keys and roles in params.
bool finish_options(emulator_options& o) {
    auto& p = o.p;
    auto& acct = o.acct;
    bool key_given = o.secret_key.has_value();
    if (o.secret_key) acct.secret_key = *o.secret_key;
    if (o.key_file) {
        if (key_given) throw usage_error("--secret-key and --secret-key-file are exclusive");
        acct.secret_key = first_line("--secret-key-file", *o.key_file), key_given = true;
    }
    if (!key_given && !acct.secret_id.empty())
        if (const char* env = std::getenv("CBS_EMULATOR_SECRET_KEY"); env && *env)
            acct.secret_key = env, key_given = true;
    if (acct.secret_id.empty() != acct.secret_key.empty())
        throw usage_error(
            acct.secret_id.empty()
                ? "--secret-key/--secret-key-file need --secret-id"
                : "--secret-id needs its key: --secret-key-file FILE, CBS_EMULATOR_SECRET_KEY or --secret-key");
    if (!acct.token.empty() && acct.secret_id.empty()) throw usage_error("--token needs --secret-id and its key");
    if (!acct.secret_id.empty()) p.accounts.push_back(acct);
    for (auto& m : o.more) p.accounts.push_back(std::move(m));
    if (!o.roles_given) p.roles = {default_role};
    if (p.roles.empty()) throw usage_error("--roles needs at least one role ARN");
    if (p.metadata) {
        if (o.metadata_role)
            p.metadata_role = *o.metadata_role;
        else if (const auto name = p.roles.front().rfind('/'); name != std::string::npos)
            p.metadata_role = p.roles.front().substr(name + 1);
    }
    if (o.oidc_token_file && p.oidc_provider_id.empty())
        throw usage_error("--oidc-token-file needs --oidc-provider-id");
    if (!p.oidc_provider_id.empty())
        p.oidc_token = o.oidc_token_file ? first_line("--oidc-token-file", *o.oidc_token_file) : random_token(64);
    const auto& rule = o.rule;
    if (rule.any()) p.faults.rules[o.fault_action] = rule;
    if (rule.transient + rule.gateway_502 + rule.reset_before + rule.reset_after + rule.slow > 1.0 + 1e-9)
        throw usage_error("the --fault-* probabilities (except --fault-latency) add up to more than 1");
    p.fleet.rollback_time = o.rollback_time;
    return key_given || !o.more.empty();
}

}  // namespace cbsctl::emulator_cli
