// cbsctl demo: the fleet engine on the embedded emulator, no cloud needed.
#include "fleet_run.hpp"

#include <CLI/CLI.hpp>

#include <cbs/emulator/emulator.hpp>

#include <boost/asio/io_context.hpp>

#include <iostream>
#include <map>

namespace cbsctl {

namespace {

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
    non_empty(cmd->add_option("--report", o->report_path, "where the report goes (- for standard output)")
                  ->type_name("FILE")
                  ->capture_default_str(),
              "--report needs a file name (or - for standard output)");
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
    std::vector<region_run> runs{{"ap-guangzhou", &client, std::move(fp)}};
    int status = run_fleets(io, runs, report, fleet_print{}, [&] { emu.stop(); });

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
