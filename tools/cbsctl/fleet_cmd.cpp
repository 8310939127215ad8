// cbsctl snapshot-fleet and cbsctl demo: the fleet engine from the command line.
#include "fleet_output.hpp"

#include <CLI/CLI.hpp>

#include <cbs/emulator/emulator.hpp>
#include <cbs/fleet.hpp>
#include <cbs/fleet_names.hpp>
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

namespace {

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
    if (!cbs::is_run_id(id))
        throw usage_error("--run-id '" + id + "': 1 to 64 letters, digits, '.', '_' or '-' (not starting with '.')");
}

/// A CLI11 check that the value is not empty, failing with `message`.
CLI::Validator non_empty(std::string message) {
    return CLI::Validator([message](std::string& v) { return v.empty() ? message : std::string(); }, "", "non_empty");
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

struct fleet_options {
    connection_options conn;
    cbs::fleet_params fp;
    std::string report_path, instances_file;
    std::vector<std::string> instances, rates;
    std::optional<std::string> tag, journal;
    std::optional<std::chrono::milliseconds> deadline, window, busy_wait;
    bool json = false;
};

int run_snapshot_fleet(fleet_options& o);

}  // namespace

command_runner add_snapshot_fleet_command(CLI::App& root) {
    auto o = std::make_shared<fleet_options>();
    auto* cmd = root.add_subcommand("snapshot-fleet",
                                    "one snapshot group per instance, for a whole fleet, exactly once, with a report");
    const std::string about(
        "One snapshot group per instance, named <prefix>-<instance>-<run-id>. A re-run with the same --run-id (from "
        "any directory, with or without its journal) looks every name up first and creates nothing twice; a final "
        "sweep deletes the extra groups an ambiguous create left.");
    const std::string sel = "Instances";
    cmd->add_option("--instances", o->instances, "instance ids, separated by commas")
        ->delimiter(',')
        ->type_name("ID,...")
        ->group(sel);
    cmd->add_option("--instances-file", o->instances_file,
                    "one or more ids per line (commas or spaces); blank lines and # comments are ignored; - reads "
                    "standard input")
        ->type_name("FILE")
        ->group(sel);
    cmd->add_flag("--all", o->fp.all_instances, "every instance with attached disks (DescribeDisks)")->group(sel);
    cmd->add_option("--tag", o->tag, "with --all: only disks with this tag (DescribeDisks filter tag:KEY)")
        ->type_name("KEY=VALUE")
        ->group(sel);
    cmd->add_flag("--data-disks-only", o->fp.data_disks_only,
                  "leave system disks out of the groups (an instance with no data disk is skipped, with the reason)")
        ->group(sel);
    cmd->add_option("--name-prefix", o->fp.name_prefix,
                    "groups are named <prefix>-<instance-id>-<run-id>; prune matches this pattern")
        ->capture_default_str();
    cmd->add_option("--run-id", o->fp.run_id,
                    "letters, digits, . _ - (default: UTC time and a random suffix, printed); the same id resumes");
    cmd->add_option("--journal", o->journal,
                    "default $CBS_STATE_DIR/<run-id>.journal, else $XDG_STATE_HOME/cbs-async/..., else "
                    "~/.local/state/cbs-async/<run-id>.journal; locked while the run lasts")
        ->type_name("FILE");
    cmd->add_option("--report", o->report_path,
                    "default ./cbsctl-<run-id>.report.json, - for standard output; checked before any call, written "
                    "whole or not at all")
        ->type_name("FILE")
        ->check(non_empty("--report needs a file name (or - for standard output)"));
    cmd->add_flag(
        "--no-wait", [o](std::int64_t) { o->fp.wait = false; },
        "do not wait for the groups to be NORMAL (CREATING counts as done)");
    add_duration_option(*cmd, "--deadline", o->deadline,
                        "per instance, how long creates refused by busy disks are retried (default 10m)");
    add_duration_option(*cmd, "--consistency-window", o->window,
                        "after an unanswered create, how long its name is looked up before it is sent again; also the "
                        "wait before the final sweep (default 15s)");
    cmd->add_option("--max-resends", o->fp.max_resends, "sends of one create after the first, once the window passed")
        ->type_name("N")
        ->check(CLI::Range(0U, 100U))
        ->capture_default_str();
    add_duration_option(*cmd, "--busy-disk-wait", o->busy_wait,
                        "how long planning waits for migrating / rolling-back / attaching disks before leaving them "
                        "out, with the reason (default 60s; 0: do not wait)",
                        true);
    cmd->add_flag("--keep-duplicates", o->fp.keep_duplicates,
                  "the sweep reports extra groups (exit 1) instead of deleting them");
    cmd->add_flag("--allow-empty", o->fp.allow_empty, "an empty fleet is a success (default: exit 2)");
    cmd->add_option("--rate", o->rates,
                    std::string("requests per second for an action, ACTION=RATE, e.g. CreateSnapshotGroup=10; RATE: ") +
                        rate_syntax)
        ->type_name("ACTION=RATE");
    cmd->add_flag("--json", o->json, "print one JSON object (summary, run id, journal, report) on stdout");
    add_connection_options(*cmd, o->conn);
    cmd->footer(
        about +
        "\n\nExit status: 0 every instance done; 1 some failed, unknown, duplicated or never started, or the journal\n"
        "failed; 2 usage or configuration error (bad option, empty fleet, a journal of another\n"
        "prefix/region/endpoint/key, a run with this run id already in progress, an unwritable --report);\n"
        "130 interrupted (SIGINT/SIGTERM: the calls in flight finish, the report is written).");
    return [o] { return run_snapshot_fleet(*o); };
}

namespace {

int run_snapshot_fleet(fleet_options& o) {
    auto& conn = o.conn;
    auto& fp = o.fp;
    const auto& instances_file = o.instances_file;
    auto& report_path = o.report_path;
    const bool json = o.json;
    bool have_instances = !o.instances.empty();
    for (const auto& item : o.instances)
        for (auto& id : split_ids(item)) fp.instance_ids.push_back(std::move(id));
    if (o.tag) {
        auto [k, v] = parse_key_value(*o.tag, "--tag");
        fp.tag_filter = cbs::tag{k, v};
    }
    const bool journal_given = o.journal.has_value();
    if (o.journal) {
        if (o.journal->empty()) throw usage_error("--journal needs a file name");
        fp.journal_path = *o.journal;
    }
    if (o.deadline) fp.instance_deadline = *o.deadline;
    if (o.window) fp.consistency_window = *o.window;
    if (o.busy_wait) fp.busy_disk_wait = *o.busy_wait;
    std::map<std::string, double, std::less<>> rates;
    for (const auto& r : o.rates) {
        auto [action, text] = parse_key_value(r, "--rate");
        rates[action] = parse_rate(text, "--rate " + action);
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

/// Turns on the emulator's realistic mode (busy disks, uneven creation
/// times), on a timeline sped up tenfold so the demo stays short.
template <class P>
void set_realistic(P& p) {
    if constexpr (requires { p.realistic = true; }) p.realistic = true;
    if constexpr (requires { p.time_scale = 0.1; }) p.time_scale = 0.1;
}

struct demo_options {
    long long instances = 200, seed = 1;
    bool faults = false;
    std::string report_path = "cbsctl-demo.report.json";
};

int run_demo(const demo_options& o);

}  // namespace

command_runner add_demo_command(CLI::App& root) {
    auto o = std::make_shared<demo_options>();
    auto* cmd = root.add_subcommand("demo", "snapshot a fleet on the embedded emulator (no cloud needed)");
    const std::string about(
        "Starts the embedded CBS emulator with a seeded fleet and snapshots all of it through the real client over "
        "TLS, then prints the summary and checks on the emulator that no instance got two groups.");
    cmd->add_option("--instances", o->instances, "instances in the emulated fleet")
        ->type_name("N")
        ->check(CLI::Range(1LL, 100000LL))
        ->capture_default_str();
    cmd->add_option("--seed", o->seed, "seed of the fleet and of the faults")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->add_option("--report", o->report_path, "where the report goes (- for standard output)")
        ->type_name("FILE")
        ->capture_default_str()
        ->check(non_empty("--report needs a file name (or - for standard output)"));
    cmd->add_flag("--faults", o->faults,
                  "inject transient errors, gateway 502s, slow answers, creates committed then their answer dropped, "
                  "and a listing lag (a new group is invisible to DescribeSnapshotGroups for 3 s), on a realistic "
                  "fleet (migrating, rolling-back, attaching disks, uneven creation times; waited for up to 10 s)");
    cmd->footer(about +
                "\n\nExit status: 0 every instance done and none twice; 1 otherwise; 2 usage error; 130 interrupted.");
    return [o] { return run_demo(*o); };
}

namespace {

int run_demo(const demo_options& o) {
    const long long instances = o.instances, seed = o.seed;
    const bool faults = o.faults;
    const std::string& report_path = o.report_path;
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

}  // namespace

}  // namespace cbsctl
