// cbsctl emulator: runs the CBS emulator until SIGINT/SIGTERM.
#include "cli.hpp"

#include <cbs/emulator/emulator.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <charconv>
#include <csignal>
#include <iostream>

namespace cbsctl {

void print_emulator_usage(std::ostream& os) {
    os << "cbsctl emulator [--listen ADDR:PORT] [--instances N] [--seed S] [--region R]\n"
          "                [--state-dir DIR] [--secret-id ID --secret-key KEY [--token T]]\n"
          "                [--no-rate-limit] [--rate ACTION=N]... [--creating-ms MS]\n"
          "                [--list-lag-ms MS] [--realistic] [--uneven-creation] [--time-scale X]\n"
          "                [--failed-fraction P] [--odd-fraction P]\n"
          "                [--fault-transient P] [--fault-502 P] [--fault-reset-before P]\n"
          "                [--fault-reset-after P] [--fault-slow P] [--fault-latency P]\n"
          "                [--fault-action ACTION] [--fault-seed S] [--latency-ms MS] [--slow-ms MS]\n"
          "                [--log FILE]\n\n"
          "  --listen       address and port (default 127.0.0.1:0, an ephemeral port; [::1]:PORT for IPv6)\n"
          "  --instances    instances in the synthetic fleet (default 200)\n"
          "  --seed         seed of the fleet (default 1)\n"
          "  --region       region of the fleet (default ap-guangzhou; other regions are empty)\n"
          "  --state-dir    where the CA and server certificate live (default: a temporary directory)\n"
          "  --secret-id/--secret-key/--token  the accepted key (default: a random key, printed)\n"
          "  --no-rate-limit  do not enforce the per-action limits (20/s, DescribeDisks 100/s)\n"
          "  --rate         override one action's limit per second (0 = unlimited)\n"
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
          "  --latency-ms   latency added by --fault-latency (default 200)\n"
          "  --slow-ms      delay of a slow answer (default 35000)\n"
          "  --log          append a JSON line per request (time, action, outcome, RequestId, SecretId)\n\n"
          "Prints `export` lines for CBS_ENDPOINT, CBS_CA_FILE and the credentials, then serves\n"
          "until SIGINT or SIGTERM. exit status: 0 stopped by a signal, 1 failed to start, 2 usage error\n";
}

namespace {

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

void parse_listen(const std::string& text, cbs::emu::emulator_params& p) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon + 1 == text.size())
        throw usage_error("--listen expects ADDR:PORT, got '" + text + "'");
    std::string addr = text.substr(0, colon);
    if (addr.size() >= 2 && addr.front() == '[' && addr.back() == ']') addr = addr.substr(1, addr.size() - 2);
    const auto port = parse_number("--listen port", text.substr(colon + 1));
    if (port > 65535) throw usage_error("--listen port must be at most 65535");
    p.listen_address = addr;
    p.port = static_cast<std::uint16_t>(port);
}

}  // namespace

int run_emulator(args& a) {
    cbs::emu::emulator_params p;
    cbs::emu::account acct;
    cbs::emu::fault_rule rule;
    std::string fault_action = "*";
    bool key_given = false;
    while (!a.done()) {
        if (auto v = a.value("--listen")) parse_listen(*v, p);
        else if (auto v = a.value("--instances")) p.fleet.instances = static_cast<std::size_t>(parse_number("--instances", *v));
        else if (auto v = a.value("--seed")) p.fleet.seed = static_cast<std::uint64_t>(parse_number("--seed", *v));
        else if (auto v = a.value("--region")) p.fleet.region = *v;
        else if (auto v = a.value("--state-dir")) p.state_dir = *v;
        else if (auto v = a.value("--secret-id")) acct.secret_id = *v;
        else if (auto v = a.value("--secret-key")) acct.secret_key = *v, key_given = true;
        else if (auto v = a.value("--token")) acct.token = *v;
        else if (a.flag("--no-rate-limit")) p.rate_limits.enabled = false;
        else if (auto v = a.value("--rate")) {
            const auto eq = v->find('=');
            if (eq == std::string::npos || eq == 0) throw usage_error("--rate expects ACTION=N, got '" + *v + "'");
            p.rate_limits.overrides[v->substr(0, eq)] = static_cast<unsigned>(parse_number("--rate", v->substr(eq + 1)));
        } else if (auto v = a.value("--creating-ms")) p.fleet.creating_time = std::chrono::milliseconds(parse_number("--creating-ms", *v));
        else if (auto v = a.value("--list-lag-ms")) p.fleet.list_lag = std::chrono::milliseconds(parse_number("--list-lag-ms", *v));
        else if (a.flag("--realistic")) p.fleet.realistic = true;
        else if (a.flag("--uneven-creation")) p.fleet.uneven_creation = true;
        else if (auto v = a.value("--time-scale")) p.fleet.time_scale = parse_time_scale(*v);
        else if (auto v = a.value("--failed-fraction")) p.fleet.failed_fraction = parse_probability("--failed-fraction", *v);
        else if (auto v = a.value("--odd-fraction")) {
            p.fleet.odd_fraction = parse_probability("--odd-fraction", *v);
            if (p.fleet.odd_fraction > 0.2) throw usage_error("--odd-fraction must be at most 0.2, got '" + *v + "'");
        }
        else if (auto v = a.value("--fault-transient")) rule.transient = parse_probability("--fault-transient", *v);
        else if (auto v = a.value("--fault-502")) rule.gateway_502 = parse_probability("--fault-502", *v);
        else if (auto v = a.value("--fault-reset-before")) rule.reset_before = parse_probability("--fault-reset-before", *v);
        else if (auto v = a.value("--fault-reset-after")) rule.reset_after = parse_probability("--fault-reset-after", *v);
        else if (auto v = a.value("--fault-slow")) rule.slow = parse_probability("--fault-slow", *v);
        else if (auto v = a.value("--fault-latency")) rule.latency = parse_probability("--fault-latency", *v);
        else if (auto v = a.value("--fault-action")) fault_action = *v;
        else if (auto v = a.value("--fault-seed")) p.faults.seed = static_cast<std::uint64_t>(parse_number("--fault-seed", *v));
        else if (auto v = a.value("--latency-ms")) p.faults.latency = std::chrono::milliseconds(parse_number("--latency-ms", *v));
        else if (auto v = a.value("--slow-ms")) p.faults.slow_delay = std::chrono::milliseconds(parse_number("--slow-ms", *v));
        else if (auto v = a.value("--log")) p.log_file = *v;
        else if (a.flag("-h") || a.flag("--help")) {
            print_emulator_usage(std::cout);
            return exit_ok;
        } else
            throw usage_error("unknown option '" + a.peek() + "' for emulator (try: cbsctl emulator --help)");
    }
    if (acct.secret_id.empty() != acct.secret_key.empty())
        throw usage_error("--secret-id and --secret-key go together");
    if (!acct.token.empty() && acct.secret_id.empty()) throw usage_error("--token needs --secret-id and --secret-key");
    if (!acct.secret_id.empty()) p.accounts.push_back(acct);
    if (rule.any()) p.faults.rules[fault_action] = rule;
    if (rule.transient + rule.gateway_502 + rule.reset_before + rule.reset_after + rule.slow > 1.0 + 1e-9)
        throw usage_error("the --fault-* probabilities (except --fault-latency) add up to more than 1");

    boost::asio::io_context io;
    std::optional<cbs::emu::emulator> emu;
    try {
        emu.emplace(io.get_executor(), p);
        emu->start();
    } catch (const std::invalid_argument& e) {
        throw usage_error(e.what());
    } catch (const std::exception& e) {
        std::cerr << "cbsctl: cannot start the emulator: " << e.what() << "\n";
        return exit_failed;
    }
    const auto accounts = emu->accounts();
    std::cout << "# CBS emulator on " << emu->endpoint() << " (" << p.fleet.instances << " instances in "
              << p.fleet.region << ", seed " << p.fleet.seed << (p.rate_limits.enabled ? "" : ", no rate limits")
              << "); point a client at it with:\n"
              << "export CBS_ENDPOINT=" << emu->endpoint() << "\n"
              << "export CBS_CA_FILE=" << emu->ca_file() << "\n"
              << "export TENCENTCLOUD_REGION=" << p.fleet.region << "\n"
              << "export TENCENTCLOUD_SECRET_ID=" << accounts.front().secret_id << "\n";
    if (key_given)
        std::cout << "# TENCENTCLOUD_SECRET_KEY: the --secret-key given (not echoed)\n";
    else
        std::cout << "export TENCENTCLOUD_SECRET_KEY=" << accounts.front().secret_key << "\n";
    if (!accounts.front().token.empty())
        std::cout << "# TENCENTCLOUD_SESSION_TOKEN: the --token given (not echoed)\n";
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

}  // namespace cbsctl
