// cbsctl snapshot-fleet and cbsctl demo: the fleet engine from the command line.
#include "fleet_output.hpp"

#include <cbs/emulator/emulator.hpp>
#include <cbs/fleet.hpp>
#include <cbs/journal.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>

namespace cbsctl {

void print_snapshot_fleet_usage(std::ostream& os) {
    os << "cbsctl snapshot-fleet (--instances ID[,ID...] | --instances-file FILE | --all [--tag KEY=VALUE])\n"
          "    [--name-prefix P] [--run-id ID] [--journal FILE] [--report FILE|-] [--data-disks-only]\n"
          "    [--no-wait] [--deadline DURATION] [--consistency-window DURATION] [--max-resends N]\n"
          "    [--busy-disk-wait DURATION] [--keep-duplicates] [--allow-empty] [--rate ACTION=N ...]\n"
          "    [--json] [options of call]\n\n"
          "  one snapshot group per instance, named <prefix>-<instance>-<run-id>. A re-run with the same\n"
          "  --run-id (from any directory, with or without its journal) looks every name up first and\n"
          "  creates nothing twice; a final sweep deletes the extra groups an ambiguous create left.\n"
          "  --instances-file  one or more ids per line (commas or spaces); blank lines and # comments\n"
          "               are ignored; - reads standard input\n"
          "  --run-id     letters, digits, . _ - (default: UTC time and a random suffix, printed)\n"
          "  --journal    default $CBS_STATE_DIR/<run-id>.journal, else $XDG_STATE_HOME/cbs-async/...,\n"
          "               else ~/.local/state/cbs-async/<run-id>.journal; locked while the run lasts\n"
          "  --report     default ./cbsctl-<run-id>.report.json, - for standard output; checked before\n"
          "               any call, written whole or not at all\n"
          "  --deadline   per instance, how long creates refused by busy disks are retried (default 10m)\n"
          "  --consistency-window  after an unanswered create, how long its name is looked up before it\n"
          "               is sent again; also the wait before the final sweep (default 15s)\n"
          "  --max-resends  sends of one create after the first, once the window passed (default 2)\n"
          "  --busy-disk-wait  how long planning waits for migrating / rolling-back / attaching disks\n"
          "               before leaving them out, with the reason (default 60s; 0: do not wait)\n"
          "  --keep-duplicates  the sweep reports extra groups (exit 1) instead of deleting them\n"
          "  --allow-empty  an empty fleet is a success (default: exit 2)\n"
          "  --rate       requests per second for an action, e.g. --rate CreateSnapshotGroup=10\n"
          "  --json       print only the report summary as JSON on stdout\n"
          "  durations: 500ms, 90s, 10m, 1h (a bare number is seconds)\n"
       << connection_usage
       << "\nexit status: 0 every instance done; 1 some failed, unknown, duplicated or never started, or\n"
          "the journal failed; 2 usage or configuration error (bad option, empty fleet, a journal of\n"
          "another prefix/region/endpoint/key, a run with this run id already in progress, an unwritable\n"
          "--report); 130 interrupted (SIGINT/SIGTERM: the calls in flight finish, the report is written)\n";
}

void print_demo_usage(std::ostream& os) {
    os << "cbsctl demo [--instances N] [--faults] [--seed S] [--report FILE|-]\n\n"
          "  starts the embedded CBS emulator with a seeded fleet of N instances (default 200) and\n"
          "  snapshots all of it through the real client over TLS, then prints the summary and checks\n"
          "  on the emulator that no instance got two groups.\n"
          "  --faults     inject transient errors, gateway 502s, slow answers, creates committed then\n"
          "               their answer dropped, and a listing lag (a new group is invisible to\n"
          "               DescribeSnapshotGroups for 3 s), on a realistic fleet (migrating, rolling-back,\n"
          "               attaching disks, uneven creation times; waited for up to 10 s)\n";
}

namespace {

/// Ids separated by commas or white space; '#' starts a comment to the end of
/// the line.
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

/// UTC time and 24 random bits: two runs started in the same second differ.
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

void check_run_id(const std::string& id) {
    if (id.empty() || id.size() > 64 || id.front() == '.' ||
        id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != std::string::npos)
        throw usage_error("--run-id '" + id + "': 1 to 64 letters, digits, '.', '_' or '-' (not starting with '.')");
}

std::chrono::milliseconds duration_or_zero(const std::string& text, std::string_view option) {
    if (text == "0") return std::chrono::milliseconds(0);
    return parse_duration(text, option);
}

bool usage_code(const cbs::error_code& ec) {
    return ec == cbs::client_errc::invalid_request || ec == cbs::client_errc::invalid_config ||
           ec == cbs::client_errc::run_in_progress;
}

/// Runs the fleet on `io`, writes the report, prints the summary; returns the
/// exit status.
int run_fleet(boost::asio::io_context& io, cbs::client& client, cbs::fleet_params fp, report_file& report, bool json,
              std::function<void()> after = {}) {
    progress_display progress(json);
    const std::string journal = fp.journal_path;
    std::optional<cbs::fleet_report> result;
    std::exception_ptr failure;
    // Ctrl-C (or SIGTERM): no new create is sent, the calls in flight finish
    // and are recorded, the report is written, exit 130. A second signal
    // ends the process at once (the journal has what was sent).
    boost::asio::cancellation_signal stop;
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    int signals_seen = 0;
    std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code& ec,
                                                                               int) {
        if (ec) return;
        if (++signals_seen > 1) {
            report.abandon();
            std::_Exit(exit_interrupted);
        }
        std::cerr << "\ncbsctl: stopping: finishing the calls in flight, then writing the report (again to quit now)\n";
        stop.emit(boost::asio::cancellation_type::terminal);
        signals.async_wait(on_signal);
    };
    signals.async_wait(on_signal);
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
            result = co_await cbs::async_snapshot_fleet(client, fp, std::ref(progress));
        },
        boost::asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e) {
            failure = e;
            signals.cancel();
            if (after) after();
        }));
    io.run();
    progress.finish();
    if (failure) {
        report.abandon();
        try {
            std::rethrow_exception(failure);
        } catch (const cbs::error& e) {
            std::cerr << "cbsctl: snapshot-fleet: " << e.diag().to_string(e.code()) << "\n";
            if (signals_seen) return exit_interrupted;
            return usage_code(e.code()) ? exit_usage : exit_failed;
        } catch (const std::exception& e) {
            std::cerr << "cbsctl: snapshot-fleet: " << e.what() << "\n";
            return signals_seen ? exit_interrupted : exit_failed;
        }
    }
    auto doc = cbs::to_json(*result);
    int status = fleet_exit_status(*result, signals_seen > 0);
    std::string where = report.display();
    if (auto err = report.commit(json_text(doc) + "\n"); !err.empty()) {
        std::cerr << "cbsctl: " << err << "\n";
        where = "(not written: " + err + ")";
        if (status == exit_ok) status = exit_failed;
    }
    if (json) {
        auto summary = doc.at("summary").as_object();
        summary["run_id"] = result->run_id;
        summary["journal"] = journal;
        summary["report"] = where;
        summary["exit_status"] = status;
        std::cout << json_text(summary) << "\n" << std::flush;
    } else {
        print_fleet_summary(std::cerr, *result, journal, where);
    }
    return status;
}

}  // namespace

int run_snapshot_fleet(args& a) {
    connection_options conn;
    cbs::fleet_params fp;
    std::string report_path, instances_file;
    bool json = false, have_instances = false, journal_given = false;
    std::map<std::string, double, std::less<>> rates;
    while (!a.done()) {
        if (conn.parse(a)) continue;
        if (auto v = a.value("--instances")) {
            for (auto& id : split_ids(*v)) fp.instance_ids.push_back(std::move(id));
            have_instances = true;
        } else if (auto v = a.value("--instances-file"))
            instances_file = *v;
        else if (a.flag("--all"))
            fp.all_instances = true;
        else if (auto v = a.value("--tag")) {
            auto eq = v->find('=');
            if (eq == std::string::npos || eq == 0) throw usage_error("--tag expects KEY=VALUE, got '" + *v + "'");
            fp.tag_filter = cbs::tag{v->substr(0, eq), v->substr(eq + 1)};
        } else if (auto v = a.value("--name-prefix"))
            fp.name_prefix = *v;
        else if (auto v = a.value("--run-id"))
            fp.run_id = *v;
        else if (auto v = a.value("--journal")) {
            if (v->empty()) throw usage_error("--journal needs a file name");
            fp.journal_path = *v;
            journal_given = true;
        } else if (auto v = a.value("--report")) {
            if (v->empty()) throw usage_error("--report needs a file name (or - for standard output)");
            report_path = *v;
        } else if (a.flag("--data-disks-only"))
            fp.data_disks_only = true;
        else if (a.flag("--no-wait"))
            fp.wait = false;
        else if (auto v = a.value("--deadline"))
            fp.instance_deadline = parse_duration(*v, "--deadline");
        else if (auto v = a.value("--consistency-window"))
            fp.consistency_window = parse_duration(*v, "--consistency-window");
        else if (auto v = a.value("--max-resends"))
            fp.max_resends = static_cast<unsigned>(std::min(parse_number("--max-resends", *v), 100LL));
        else if (auto v = a.value("--busy-disk-wait"))
            fp.busy_disk_wait = duration_or_zero(*v, "--busy-disk-wait");
        else if (a.flag("--keep-duplicates"))
            fp.keep_duplicates = true;
        else if (a.flag("--allow-empty"))
            fp.allow_empty = true;
        else if (auto v = a.value("--rate")) {
            auto eq = v->find('=');
            if (eq == std::string::npos || eq == 0) throw usage_error("--rate expects ACTION=N, got '" + *v + "'");
            double n = 0;
            try {
                n = std::stod(v->substr(eq + 1));
            } catch (...) {
                n = 0;
            }
            if (!(n > 0)) throw usage_error("--rate " + v->substr(0, eq) + ": N must be a positive number");
            rates[v->substr(0, eq)] = n;
        } else if (a.flag("--json"))
            json = true;
        else if (a.flag("-h") || a.flag("--help")) {
            print_snapshot_fleet_usage(std::cout);
            return exit_ok;
        } else
            throw usage_error("snapshot-fleet: unknown option '" + a.peek() + "'");
    }
    if (!instances_file.empty()) {
        std::stringstream ss;
        if (instances_file == "-") {
            ss << std::cin.rdbuf();
        } else {
            std::ifstream in(instances_file);
            if (!in)
                throw usage_error("cannot read --instances-file '" + instances_file + "': " + std::strerror(errno));
            ss << in.rdbuf();
        }
        for (auto& id : split_ids(ss.str())) fp.instance_ids.push_back(std::move(id));
        have_instances = true;
    }
    if (have_instances && fp.all_instances) throw usage_error("give --instances/--instances-file or --all, not both");
    if (!have_instances && !fp.all_instances)
        throw usage_error("snapshot-fleet needs --instances, --instances-file or --all");
    if (have_instances && fp.instance_ids.empty() && !fp.allow_empty)
        throw usage_error(instances_file.empty() ? "the instance list is empty (--allow-empty to accept an empty fleet)"
                                                 : "--instances-file '" + instances_file +
                                                       "' lists no instance (blank lines and # comments are ignored; "
                                                       "--allow-empty to accept an empty fleet)");
    if (fp.tag_filter && !fp.all_instances) throw usage_error("--tag only applies with --all");
    {
        std::set<std::string_view> seen;
        for (const auto& id : fp.instance_ids)
            if (!seen.insert(id).second) throw usage_error("instance '" + id + "' is listed twice");
    }
    if (json && report_path == "-")
        throw usage_error("--json and --report - both write to standard output; choose one");
    const bool generated_id = fp.run_id.empty();
    if (generated_id) fp.run_id = default_run_id();
    check_run_id(fp.run_id);
    if (!journal_given) {
        const auto dir = cbs::default_journal_dir();
        if (dir.empty())
            throw usage_error(
                "no state directory for the journal: set CBS_STATE_DIR (or HOME), or give --journal FILE");
        cbs::diagnostics diag;
        if (auto ec = cbs::make_directories(dir, diag)) throw usage_error("journal directory: " + diag.client_message);
        fp.journal_path = cbs::default_journal_path(fp.run_id);
    }
    if (report_path.empty()) report_path = "cbsctl-" + fp.run_id + ".report.json";
    report_file report(report_path);  // checked (and its temporary created) before any call

    auto params = make_client_params(conn);
    params.rate_overrides = std::move(rates);
    if (!json)
        std::cerr << "cbsctl: run id " << fp.run_id
                  << (generated_id ? " (re-run with --run-id " + fp.run_id + " to resume)" : "") << ", journal "
                  << fp.journal_path << "\n";
    boost::asio::io_context io;
    std::optional<cbs::client> client;
    try {
        client.emplace(io.get_executor(), std::move(params));
    } catch (const cbs::error& e) {
        throw usage_error(e.diag().to_string(e.code()));
    }
    return run_fleet(io, *client, std::move(fp), report, json);
}

namespace {

/// Turns on the emulator's realistic mode (busy disks, uneven creation
/// times), on a timeline sped up tenfold so the demo stays short.
template <class P>
void set_realistic(P& p) {
    if constexpr (requires { p.realistic = true; }) p.realistic = true;
    if constexpr (requires { p.time_scale = 0.1; }) p.time_scale = 0.1;
}

}  // namespace

int run_demo(args& a) {
    long long instances = 200, seed = 1;
    bool faults = false;
    std::string report_path = "cbsctl-demo.report.json";
    while (!a.done()) {
        if (auto v = a.value("--instances"))
            instances = parse_number("--instances", *v);
        else if (auto v = a.value("--seed"))
            seed = parse_number("--seed", *v);
        else if (auto v = a.value("--report"))
            report_path = *v;
        else if (a.flag("--faults"))
            faults = true;
        else if (a.flag("-h") || a.flag("--help")) {
            print_demo_usage(std::cout);
            return exit_ok;
        } else
            throw usage_error("demo: unknown option '" + a.peek() + "'");
    }
    if (instances == 0 || instances > 100000) throw usage_error("--instances must be in 1..100000");
    report_file report(report_path);

    boost::asio::io_context io;
    cbs::emu::emulator_params ep;
    ep.fleet.instances = static_cast<std::size_t>(instances);
    ep.fleet.seed = static_cast<std::uint64_t>(seed);
    ep.fleet.creating_time = std::chrono::seconds(2);
    std::chrono::milliseconds lag{0};
    if (faults) {
        lag = std::chrono::seconds(3);
        ep.fleet.list_lag = lag;
        set_realistic(ep.fleet);
        ep.faults.seed = static_cast<std::uint64_t>(seed);
        ep.faults.slow_delay = std::chrono::seconds(4);  // slow answers of 2-4 s, under the 10 s timeout
        cbs::emu::fault_rule create;
        create.transient = 0.10;
        create.reset_after = 0.05;
        create.gateway_502 = 0.02;
        create.slow = 0.02;
        ep.faults.rules["CreateSnapshotGroup"] = create;
        cbs::emu::fault_rule describe;
        describe.transient = 0.05;
        describe.slow = 0.01;
        ep.faults.rules["DescribeSnapshotGroups"] = describe;
        ep.faults.rules["DescribeDisks"] = describe;
    }
    cbs::emu::emulator emu(io.get_executor(), ep);
    emu.start();
    auto account = emu.accounts().front();
    std::cerr << "cbsctl: demo: embedded CBS emulator at " << emu.endpoint() << " with " << instances << " instances"
              << (faults ? ", faults on, listing lag " + std::to_string(lag.count()) + " ms" : "") << "\n";

    cbs::client_params params;
    params.endpoint = emu.endpoint();
    params.pool.ca_file = emu.ca_file();
    params.creds = {account.secret_id, account.secret_key, account.token, "emulator"};
    params.request_timeout = std::chrono::seconds(10);
    cbs::client client(io.get_executor(), params);

    cbs::fleet_params fp;
    emu.inspect([&](cbs::emu::fleet_state& s) { fp.instance_ids = s.instance_ids(); });
    fp.name_prefix = "demo";
    fp.run_id = default_run_id();
    fp.poll_interval = std::chrono::milliseconds(500);
    // The window must outlast the listing lag; short, so the demo is quick.
    fp.consistency_window = std::max<std::chrono::milliseconds>(std::chrono::seconds(2), 2 * lag);
    if (faults) fp.busy_disk_wait = std::chrono::seconds(10);
    const std::string run_suffix = "-" + fp.run_id;
    const auto planned = fp.instance_ids.size();
    int status = run_fleet(io, client, std::move(fp), report, false, [&] { emu.stop(); });

    // Check the outcome on the service side: at most one group of this run
    // per instance (none twice, whatever the faults did).
    std::map<std::string, int> groups;
    emu.inspect([&](cbs::emu::fleet_state& s) {
        for (const auto& g : s.groups())
            if (g.name.ends_with(run_suffix)) ++groups[g.instance_id];
    });
    std::size_t twice = 0;
    for (const auto& [id, n] : groups)
        if (n > 1) {
            ++twice;
            std::cerr << "cbsctl: demo: " << id << " has " << n << " groups\n";
        }
    std::cerr << "cbsctl: demo: the emulator holds " << groups.size() << " groups of this run for " << planned
              << " instances; " << (twice == 0 ? "none has two" : std::to_string(twice) + " have more than one")
              << "\n";
    return twice == 0 ? status : exit_failed;
}

}  // namespace cbsctl
