// cbsctl emulator: runs the CBS emulator until SIGINT/SIGTERM.
#include "legacy_args.hpp"

#include <CLI/CLI.hpp>

#include <cbs/emulator/emulator.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <optional>
#include <random>
#include <stdexcept>

namespace cbsctl {

namespace {
// The role `cbsctl emulator` accepts unless --roles says otherwise.
constexpr const char* default_role = "qcs::cam::uin/100000000001:roleName/cbs-emulator-role";
}  // namespace

namespace {
void print_emulator_usage(std::ostream& os) {
    os << "cbsctl emulator [--listen ADDR:PORT] [--instances N] [--seed S] [--region R]\n"
          "                [--state-dir DIR] [--secret-id ID [--secret-key-file FILE] [--token T]]\n"
          "                [--credentials LIST] [--credentials-file FILE] [--rate-scope key|account]\n"
          "                [--throttle-codes CODE[=W],...] [--throttle-seed S]\n"
          "                [--no-rate-limit] [--rate ACTION=N]... [--creating-ms MS]\n"
          "                [--list-lag-ms MS] [--realistic] [--uneven-creation] [--time-scale X]\n"
          "                [--failed-fraction P] [--odd-fraction P]\n"
          "                [--fault-transient P] [--fault-502 P] [--fault-reset-before P]\n"
          "                [--fault-reset-after P] [--fault-slow P] [--fault-latency P]\n"
          "                [--fault-action ACTION] [--fault-seed S] [--latency-ms MS|MIN-MAX]\n"
          "                [--slow-ms MS|MIN-MAX]\n"
          "                [--roles ARN,...] [--temp-lifetime DURATION] [--metadata] [--metadata-port N]\n"
          "                [--metadata-role NAME] [--oidc-provider-id ID [--oidc-token-file FILE]]\n"
          "                [--log FILE]\n\n"
          "  --listen       address and port (default 127.0.0.1:0, an ephemeral port; [::1]:PORT for IPv6)\n"
          "  --instances    instances in the synthetic fleet (default 200)\n"
          "  --seed         seed of the fleet (default 1)\n"
          "  --region       region of the fleet (default ap-guangzhou; other regions are empty)\n"
          "  --state-dir    where the CA and server certificate live (default: a temporary directory)\n"
          "  --secret-id    the SecretId of the accepted key (default: a random key, printed); its key\n"
          "                 from --secret-key-file FILE (first line), else $CBS_EMULATOR_SECRET_KEY,\n"
          "                 else --secret-key KEY (visible to every user in the process list: warned)\n"
          "  --token        the key is temporary credentials: requests must carry this X-TC-Token\n"
          "  --credentials  more accepted keys: [UIN/]ID:KEY[:TOKEN],... (UIN: the main account)\n"
          "  --credentials-file  the same from a file, one entry per line, # comments\n"
          "  --rate-scope   key: each SecretId has its own rate windows (default); account: the\n"
          "                 keys of one UIN share them\n"
          "  --throttle-codes  refusal codes drawn per refused request, with weights (default\n"
          "                 RequestLimitExceeded=0.55,.UinLimitExceeded=0.2,.IPLimitExceeded=0.15,\n"
          "                 .GlobalRegionUinLimitExceeded=0.1; a code starting with '.' is a sub-code)\n"
          "  --throttle-seed  seed of the refusal-code draw (default 1)\n"
          "  --no-rate-limit  do not enforce the per-action limits (20/s, DescribeDisks 100/s)\n"
          "  --rate         override one action's limit per second (0 = unlimited, at most 4294967295)\n"
          "  --creating-ms  how long a snapshot group stays CREATING (default 3000)\n"
          "  --list-lag-ms  a new snapshot group is missing from DescribeSnapshotGroups (and its\n"
          "                 snapshots from DescribeSnapshots) for this long (default 0)\n"
          "  --realistic    seeded odd disks: a few instances each with a disk migrating, rolling back,\n"
          "                 attaching or detaching (refused by CreateSnapshotGroup until the change\n"
          "                 ends, seconds to minutes in), instances with 8-20 data disks; implies\n"
          "                 --uneven-creation\n"
          "  --uneven-creation  each group's creation time drawn around --creating-ms with a long tail\n"
          "                 (up to 100 x), Percent rising unevenly\n"
          "  --time-scale   multiply every seeded duration and --creating-ms by X (default 1;\n"
          "                 0.1 runs a realistic timeline ten times faster)\n"
          "  --failed-fraction  share of snapshot groups that end FAILED (default 0)\n"
          "  --odd-fraction share of the instances per odd-disk kind with --realistic (default 0.03,\n"
          "                 at most 0.2)\n"
          "  --fault-*      probability (0..1) of each fault per request: transient error codes,\n"
          "                 a gateway 502, a reset before / after the action runs, a slow answer,\n"
          "                 added latency\n"
          "  --fault-action apply the --fault-* options to this action only (default: every action)\n"
          "  --fault-seed   seed of the fault RNG (default 1)\n"
          "  --latency-ms   latency added by --fault-latency: MS (MS to 2 x MS) or MIN-MAX, drawn\n"
          "                 per request, long-tailed (default 200, i.e. 200-400)\n"
          "  --slow-ms      delay of a slow answer: MS (MS/2 to MS) or MIN-MAX, drawn per request,\n"
          "                 uniform (default 35000, i.e. 17500-35000); MS-MS for a fixed delay\n"
          "  --roles        role ARNs STS AssumeRole accepts, qcs::cam::uin/<digits>:roleName/<name>,...\n"
          "                 (default "
       << default_role
       << ")\n"
          "  --temp-lifetime  lifetime of the temporary credentials issued, e.g. 20s, 10m, 2h\n"
          "                 (1s to 12h, whole seconds; default 2h; STS issues min(DurationSeconds, this))\n"
          "  --metadata     serve the CVM metadata service (plain HTTP on 127.0.0.1)\n"
          "  --metadata-port  its port (default 0, an ephemeral port; implies --metadata)\n"
          "  --metadata-role  the role it serves (default: the first role's name; '' binds no role;\n"
          "                 implies --metadata)\n"
          "  --oidc-provider-id  accept AssumeRoleWithWebIdentity from this identity provider\n"
          "  --oidc-token-file  the web identity token it accepts, first line of FILE (default: a random\n"
          "                 token written to web-identity-token in the state directory, mode 0600)\n"
          "  --log          append a JSON line per request (time, action, outcome, RequestId, SecretId,\n"
          "                 fault, delay_ms, throttled, issued_secret_id)\n"
          "Durations are in milliseconds, at most 86400000 (a day).\n\n"
          "Prints `export` lines for CBS_ENDPOINT, CBS_CA_FILE, the credentials, CBS_STS_ENDPOINT and, when\n"
          "enabled, CBS_METADATA_ENDPOINT and TKE_REGION/TKE_PROVIDER_ID/TKE_WEB_IDENTITY_TOKEN_FILE/\n"
          "TKE_ROLE_ARN (never a token), then serves\n"
          "until SIGINT or SIGTERM. exit status: 0 stopped by a signal, 1 failed to start, 2 usage error\n";
}

constexpr long long max_ms = 86'400'000;  // a day: beyond any useful delay, far from overflow

long long parse_bounded(std::string_view name, const std::string& text, long long lo, long long hi) {
    const long long v = parse_number(name, text);
    if (v < lo || v > hi)
        throw usage_error(std::string(name) + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                          ", got '" + text + "'");
    return v;
}

std::chrono::milliseconds parse_ms(std::string_view name, const std::string& text) {
    return std::chrono::milliseconds(parse_bounded(name, text, 0, max_ms));
}

/// MS or MIN-MAX.
std::pair<std::chrono::milliseconds, std::optional<std::chrono::milliseconds>> parse_ms_range(std::string_view name,
                                                                                              const std::string& text) {
    const auto dash = text.find('-');
    if (dash == std::string::npos) return {parse_ms(name, text), std::nullopt};
    const auto lo = parse_ms(name, text.substr(0, dash)), hi = parse_ms(name, text.substr(dash + 1));
    if (hi < lo) throw usage_error(std::string(name) + " expects MIN-MAX with MIN <= MAX, got '" + text + "'");
    return {lo, hi};
}

std::string read_secret_file(const std::string& opt, const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw usage_error(opt + ": cannot read '" + path + "'");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
        std::cerr << "cbsctl: warning: " << opt << " '" << path << "' is readable by other users (chmod 600 it)\n";
    return text;
}

std::string first_line_key(const std::string& path) {
    const std::string text = read_secret_file("--secret-key-file", path);
    std::string key = text.substr(0, text.find('\n'));
    while (!key.empty() && (key.back() == '\r' || key.back() == ' ' || key.back() == '\t')) key.pop_back();
    if (key.empty()) throw usage_error("--secret-key-file '" + path + "': the first line is empty");
    return key;
}

std::vector<std::pair<std::string, double>> parse_throttle_codes(const std::string& text) {
    std::vector<std::pair<std::string, double>> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto comma = text.find(',', start);
        std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        start = comma == std::string::npos ? text.size() + 1 : comma + 1;
        double w = 1;
        if (const auto eq = item.find('='); eq != std::string::npos) {
            const std::string wt = item.substr(eq + 1);
            auto [p, ec] = std::from_chars(wt.data(), wt.data() + wt.size(), w);
            if (ec != std::errc{} || p != wt.data() + wt.size() || !(w > 0 && w < 1e9))
                throw usage_error("--throttle-codes: the weight of '" + item + "' must be a positive number");
            item = item.substr(0, eq);
        }
        if (!item.empty() && item.front() == '.') item.insert(0, "RequestLimitExceeded");
        if (item != "RequestLimitExceeded" && !item.starts_with("RequestLimitExceeded."))
            throw usage_error("--throttle-codes: '" + item +
                              "' is not RequestLimitExceeded or one of its sub-codes (.UinLimitExceeded, ...)");
        out.emplace_back(item, w);
    }
    return out;
}

double parse_probability(std::string_view name, const std::string& text) {
    double v = -1;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || p != text.data() + text.size() || !(v >= 0 && v <= 1))
        throw usage_error(std::string(name) + " expects a probability between 0 and 1, got '" + text + "'");
    return v;
}

double parse_time_scale(const std::string& text) {
    double v = -1;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || p != text.data() + text.size() || !(v > 0 && v <= 1000))
        throw usage_error("--time-scale expects a factor above 0 and at most 1000, got '" + text + "'");
    return v;
}

std::vector<std::string> split_commas(const std::string& text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto comma = text.find(',', start);
        std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        start = comma == std::string::npos ? text.size() + 1 : comma + 1;
        if (!item.empty()) out.push_back(std::move(item));
    }
    return out;
}

std::chrono::seconds parse_temp_lifetime(const std::string& text) {
    const auto d = parse_duration(text, "--temp-lifetime");
    if (d < std::chrono::seconds(1) || d > std::chrono::hours(12) || d % std::chrono::seconds(1) != d.zero())
        throw usage_error("--temp-lifetime must be whole seconds between 1s and 12h (43200s), got '" + text + "'");
    return std::chrono::duration_cast<std::chrono::seconds>(d);
}

std::string random_token(std::size_t n) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::random_device rd;
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s.push_back(alphabet[rd() % (sizeof alphabet - 1)]);
    return s;
}

/// Writes `text` to `path`, readable by the owner only (created 0600, and
/// chmod-ed if it existed). Throws std::runtime_error.
void write_private_file(const std::string& path, const std::string& text) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
    const bool ok =
        ::fchmod(fd, 0600) == 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    const int err = errno;
    ::close(fd);
    if (!ok) throw std::runtime_error("cannot write " + path + ": " + std::strerror(err));
}

void parse_listen(const std::string& text, cbs::emu::emulator_params& p) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon + 1 == text.size())
        throw usage_error("--listen expects ADDR:PORT, got '" + text + "'");
    std::string addr = text.substr(0, colon);
    if (addr.size() >= 2 && addr.front() == '[' && addr.back() == ']') addr = addr.substr(1, addr.size() - 2);
    const auto port = parse_bounded("--listen port", text.substr(colon + 1), 0, 65535);
    p.listen_address = addr;
    p.port = static_cast<std::uint16_t>(port);
}

}  // namespace

namespace {
int run_emulator(args& a);
}  // namespace

command_runner add_emulator_command(CLI::App& root) {
    // Still parsed by the hand-written walker: CLI11 hands it every argument.
    auto* cmd =
        root.add_subcommand("emulator", "run the CBS emulator as a local HTTPS server (cbsctl emulator --help)");
    cmd->prefix_command();
    cmd->set_help_flag();
    return [cmd] {
        args a(cmd->remaining());
        return run_emulator(a);
    };
}

namespace {
int run_emulator(args& a) {
    cbs::emu::emulator_params p;
    cbs::emu::account acct;
    cbs::emu::fault_rule rule;
    std::string fault_action = "*";
    bool key_given = false;
    std::string key_file;
    std::vector<cbs::emu::account> more;
    bool roles_given = false;
    std::optional<std::string> metadata_role, oidc_token_file;
    while (!a.done()) {
        if (auto v = a.value("--listen"))
            parse_listen(*v, p);
        else if (auto v = a.value("--instances"))
            p.fleet.instances = static_cast<std::size_t>(parse_bounded("--instances", *v, 0, 1'000'000));
        else if (auto v = a.value("--seed"))
            p.fleet.seed = static_cast<std::uint64_t>(parse_number("--seed", *v));
        else if (auto v = a.value("--region"))
            p.fleet.region = *v;
        else if (auto v = a.value("--state-dir"))
            p.state_dir = *v;
        else if (auto v = a.value("--secret-id"))
            acct.secret_id = *v;
        else if (auto v = a.value("--secret-key")) {
            acct.secret_key = *v, key_given = true;
            std::cerr << "cbsctl: warning: --secret-key is visible to every user of this machine in the process "
                         "list; use --secret-key-file FILE or CBS_EMULATOR_SECRET_KEY\n";
        } else if (auto v = a.value("--secret-key-file"))
            key_file = *v;
        else if (auto v = a.value("--credentials")) {
            std::cerr << "cbsctl: warning: --credentials is visible to every user of this machine in the process "
                         "list; use --credentials-file FILE\n";
            try {
                for (auto& c : cbs::emu::parse_accounts(*v)) more.push_back(std::move(c));
            } catch (const std::invalid_argument& e) {
                throw usage_error(std::string("--credentials: ") + e.what());
            }
        } else if (auto v = a.value("--credentials-file")) {
            try {
                for (auto& c : cbs::emu::parse_accounts(read_secret_file("--credentials-file", *v)))
                    more.push_back(std::move(c));
            } catch (const std::invalid_argument& e) {
                throw usage_error("--credentials-file '" + *v + "': " + e.what());
            }
        } else if (auto v = a.value("--rate-scope")) {
            if (*v == "key")
                p.rate_limits.scope = cbs::emu::rate_scope::secret_id;
            else if (*v == "account")
                p.rate_limits.scope = cbs::emu::rate_scope::account;
            else
                throw usage_error("--rate-scope expects key or account, got '" + *v + "'");
        } else if (auto v = a.value("--throttle-codes"))
            p.rate_limits.throttle_codes = parse_throttle_codes(*v);
        else if (auto v = a.value("--throttle-seed"))
            p.rate_limits.seed = static_cast<std::uint64_t>(parse_number("--throttle-seed", *v));
        else if (auto v = a.value("--token"))
            acct.token = *v;
        else if (a.flag("--no-rate-limit"))
            p.rate_limits.enabled = false;
        else if (auto v = a.value("--rate")) {
            const auto eq = v->find('=');
            if (eq == std::string::npos || eq == 0) throw usage_error("--rate expects ACTION=N, got '" + *v + "'");
            p.rate_limits.overrides[v->substr(0, eq)] = static_cast<unsigned>(
                parse_bounded("--rate", v->substr(eq + 1), 0, std::numeric_limits<unsigned>::max()));
        } else if (auto v = a.value("--creating-ms"))
            p.fleet.creating_time = parse_ms("--creating-ms", *v);
        else if (auto v = a.value("--list-lag-ms"))
            p.fleet.list_lag = parse_ms("--list-lag-ms", *v);
        else if (a.flag("--realistic"))
            p.fleet.realistic = true;
        else if (a.flag("--uneven-creation"))
            p.fleet.uneven_creation = true;
        else if (auto v = a.value("--time-scale"))
            p.fleet.time_scale = parse_time_scale(*v);
        else if (auto v = a.value("--failed-fraction"))
            p.fleet.failed_fraction = parse_probability("--failed-fraction", *v);
        else if (auto v = a.value("--odd-fraction")) {
            p.fleet.odd_fraction = parse_probability("--odd-fraction", *v);
            if (p.fleet.odd_fraction > 0.2) throw usage_error("--odd-fraction must be at most 0.2, got '" + *v + "'");
        } else if (auto v = a.value("--fault-transient"))
            rule.transient = parse_probability("--fault-transient", *v);
        else if (auto v = a.value("--fault-502"))
            rule.gateway_502 = parse_probability("--fault-502", *v);
        else if (auto v = a.value("--fault-reset-before"))
            rule.reset_before = parse_probability("--fault-reset-before", *v);
        else if (auto v = a.value("--fault-reset-after"))
            rule.reset_after = parse_probability("--fault-reset-after", *v);
        else if (auto v = a.value("--fault-slow"))
            rule.slow = parse_probability("--fault-slow", *v);
        else if (auto v = a.value("--fault-latency"))
            rule.latency = parse_probability("--fault-latency", *v);
        else if (auto v = a.value("--fault-action"))
            fault_action = *v;
        else if (auto v = a.value("--fault-seed"))
            p.faults.seed = static_cast<std::uint64_t>(parse_number("--fault-seed", *v));
        else if (auto v = a.value("--latency-ms")) {
            auto [lo, hi] = parse_ms_range("--latency-ms", *v);
            p.faults.latency = lo;
            p.faults.latency_max = hi;
        } else if (auto v = a.value("--slow-ms")) {
            auto [lo, hi] = parse_ms_range("--slow-ms", *v);
            p.faults.slow_delay = hi ? *hi : lo;
            p.faults.slow_delay_min = hi ? std::optional(lo) : std::nullopt;
        } else if (auto v = a.value("--roles")) {
            roles_given = true;
            for (auto& r : split_commas(*v)) p.roles.push_back(std::move(r));
        } else if (auto v = a.value("--temp-lifetime"))
            p.temp_credential_lifetime = parse_temp_lifetime(*v);
        else if (a.flag("--metadata"))
            p.metadata = true;
        else if (auto v = a.value("--metadata-port")) {
            p.metadata = true;
            p.metadata_port = static_cast<std::uint16_t>(parse_bounded("--metadata-port", *v, 0, 65535));
        } else if (auto v = a.value("--metadata-role")) {
            p.metadata = true;
            metadata_role = *v;
        } else if (auto v = a.value("--oidc-provider-id")) {
            if (v->empty()) throw usage_error("--oidc-provider-id must not be empty");
            p.oidc_provider_id = *v;
        } else if (auto v = a.value("--oidc-token-file"))
            oidc_token_file = *v;
        else if (auto v = a.value("--log"))
            p.log_file = *v;
        else if (a.flag("-h") || a.flag("--help")) {
            print_emulator_usage(std::cout);
            return exit_ok;
        } else
            throw usage_error("unknown option '" + a.peek() + "' for emulator (try: cbsctl emulator --help)");
    }
    if (!key_file.empty()) {
        if (key_given) throw usage_error("--secret-key and --secret-key-file are exclusive");
        acct.secret_key = first_line_key(key_file), key_given = true;
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
    for (auto& m : more) p.accounts.push_back(std::move(m));
    const bool keys_given = key_given || !more.empty();
    if (!roles_given) p.roles = {default_role};
    if (p.roles.empty()) throw usage_error("--roles needs at least one role ARN");
    if (p.metadata) {
        if (metadata_role)
            p.metadata_role = *metadata_role;
        else if (const auto name = p.roles.front().rfind('/'); name != std::string::npos)
            p.metadata_role = p.roles.front().substr(name + 1);
    }
    if (oidc_token_file && p.oidc_provider_id.empty()) throw usage_error("--oidc-token-file needs --oidc-provider-id");
    if (!p.oidc_provider_id.empty()) {
        if (oidc_token_file) {
            const std::string text = read_secret_file("--oidc-token-file", *oidc_token_file);
            std::string token = text.substr(0, text.find('\n'));
            while (!token.empty() && (token.back() == '\r' || token.back() == ' ' || token.back() == '\t'))
                token.pop_back();
            if (token.empty())
                throw usage_error("--oidc-token-file '" + *oidc_token_file + "': the first line is empty");
            p.oidc_token = std::move(token);
        } else {
            p.oidc_token = random_token(64);
        }
    }
    if (rule.any()) p.faults.rules[fault_action] = rule;
    if (rule.transient + rule.gateway_502 + rule.reset_before + rule.reset_after + rule.slow > 1.0 + 1e-9)
        throw usage_error("the --fault-* probabilities (except --fault-latency) add up to more than 1");

    boost::asio::io_context io;
    std::optional<cbs::emu::emulator> emu;
    p.notice = [](const std::string& what) { std::cerr << what << "\n"; };
    try {
        emu.emplace(io.get_executor(), p);
        emu->start();
    } catch (const std::invalid_argument& e) {
        throw usage_error(e.what());
    } catch (const std::exception& e) {
        std::cerr << "cbsctl: cannot start the emulator: " << e.what() << "\n";
        return exit_failed;
    }
    std::string token_path;
    if (!p.oidc_provider_id.empty()) {
        token_path = oidc_token_file ? std::filesystem::absolute(*oidc_token_file).string()
                                     : emu->state_dir() + "/web-identity-token";
        if (!oidc_token_file) {
            try {
                write_private_file(token_path, p.oidc_token + "\n");
            } catch (const std::exception& e) {
                std::cerr << "cbsctl: cannot start the emulator: " << e.what() << "\n";
                return exit_failed;
            }
        }
    }
    const auto accounts = emu->accounts();
    std::cout << "# CBS emulator on " << emu->endpoint() << " (" << p.fleet.instances << " instances in "
              << p.fleet.region << ", seed " << p.fleet.seed << (p.rate_limits.enabled ? "" : ", no rate limits")
              << "); point a client at it with:\n"
              << "export CBS_ENDPOINT=" << emu->endpoint() << "\n"
              << "export CBS_CA_FILE=" << emu->ca_file() << "\n"
              << "export TENCENTCLOUD_REGION=" << p.fleet.region << "\n"
              << "export TENCENTCLOUD_SECRET_ID=" << accounts.front().secret_id << "\n";
    if (keys_given)
        std::cout << "# TENCENTCLOUD_SECRET_KEY: the key given (not echoed)\n";
    else
        std::cout << "export TENCENTCLOUD_SECRET_KEY=" << accounts.front().secret_key << "\n";
    if (!accounts.front().token.empty()) std::cout << "# TENCENTCLOUD_SESSION_TOKEN: the token given (not echoed)\n";
    for (std::size_t i = 1; i < accounts.size(); ++i)
        std::cout << "# also accepted: " << accounts[i].secret_id
                  << (accounts[i].uin.empty() ? "" : " (account " + accounts[i].uin + ")") << "\n";
    if (p.rate_limits.scope == cbs::emu::rate_scope::account)
        std::cout << "# rate windows shared by the keys of one account\n";
    std::cout << "export CBS_STS_ENDPOINT=" << emu->endpoint() << "\n# STS AssumeRole accepts";
    for (std::size_t i = 0; i < p.roles.size(); ++i) std::cout << (i ? ", " : " ") << p.roles[i];
    std::cout << " (temporary credentials live " << p.temp_credential_lifetime.count() << " s)\n";
    if (p.metadata) {
        std::cout << "export CBS_METADATA_ENDPOINT=" << emu->metadata_endpoint() << "\n";
        if (p.metadata_role.empty())
            std::cout << "# the metadata service has no role bound (404)\n";
        else
            std::cout << "# the metadata service serves role " << p.metadata_role << "\n";
    }
    if (!p.oidc_provider_id.empty())
        std::cout << "export TKE_REGION=" << p.fleet.region << "\n"
                  << "export TKE_PROVIDER_ID=" << p.oidc_provider_id << "\n"
                  << "export TKE_WEB_IDENTITY_TOKEN_FILE=" << token_path << "\n"
                  << "export TKE_ROLE_ARN=" << p.roles.front() << "\n";
    std::cout << "# stop with Ctrl-C (SIGINT) or SIGTERM" << std::endl;

    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        std::cerr << "cbsctl emulator: signal " << sig << ", stopping\n";
        emu->stop();
    });
    io.run();
    return exit_ok;
}

}  // namespace

}  // namespace cbsctl
