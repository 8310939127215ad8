// cbsctl snapshot-fleet and cbsctl demo: the fleet engine from the command line.
#include "cli.hpp"

#include <cbs/emulator/emulator.hpp>
#include <cbs/fleet.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/serialize.hpp>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <unistd.h>

namespace cbsctl {

void print_snapshot_fleet_usage(std::ostream& os) {
    os << "cbsctl snapshot-fleet (--instances ID[,ID...] | --instances-file FILE | --all [--tag KEY=VALUE])\n"
          "    [--name-prefix P] [--run-id ID] [--journal FILE] [--report FILE] [--data-disks-only]\n"
          "    [--no-wait] [--deadline DURATION] [--rate ACTION=N ...] [--json] [options of call]\n\n"
          "  one snapshot group per instance, named <prefix>-<instance>-<run-id>; a re-run with the same\n"
          "  --run-id and --journal resumes without creating anything twice.\n"
          "  --run-id     default: the UTC time, YYYYMMDDhhmmss (printed)\n"
          "  --journal    default ./cbsctl-<run-id>.journal\n"
          "  --report     default ./cbsctl-<run-id>.report.json (written whole, or not at all)\n"
          "  --deadline   per instance, how long busy disks are retried (default 10m); e.g. 90s, 10m, 1h\n"
          "  --rate       requests per second for an action, e.g. --rate CreateSnapshotGroup=10\n"
          "  --json       print only the report summary as JSON on stdout\n"
       << connection_usage
       << "\nexit status: 0 every instance done, 1 some failed or unknown, 2 usage or configuration error\n";
}

void print_demo_usage(std::ostream& os) {
    os << "cbsctl demo [--instances N] [--faults] [--seed S] [--report FILE]\n\n"
          "  starts the embedded CBS emulator with a seeded fleet of N instances (default 200) and\n"
          "  snapshots all of it through the real client over TLS, then prints the summary.\n"
          "  --faults     inject transient errors, gateway 502s and creates committed then dropped\n";
}

namespace {

std::chrono::milliseconds parse_duration(const std::string& text) {
    std::size_t pos = 0;
    long long n = 0;
    try {
        n = std::stoll(text, &pos);
    } catch (...) {
        pos = 0;
    }
    auto unit = text.substr(pos);
    if (pos == 0 || n < 0 || !(unit.empty() || unit == "s" || unit == "m" || unit == "h"))
        throw usage_error("--deadline expects a duration like 90s, 10m or 1h, got '" + text + "'");
    long long mult = unit == "m" ? 60 : unit == "h" ? 3600 : 1;
    return std::chrono::seconds(n * mult);
}

std::vector<std::string> split_ids(const std::string& text) {
    std::vector<std::string> out;
    std::string cur;
    for (char ch : text + ",") {
        if (ch == ',' || ch == '\n' || ch == ' ' || ch == '\t' || ch == '\r') {
            if (!cur.empty()) out.push_back(std::move(cur));
            cur.clear();
        } else {
            cur += ch;
        }
    }
    return out;
}

std::string utc_run_id() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);
    return buf;
}

/// Writes `text` to `path` whole or not at all (temp file + rename).
void write_atomically(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
        out.flush();
        if (!out) throw usage_error("cannot write report '" + tmp + "'");
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw usage_error("cannot write report '" + path + "'");
    }
}

/// Progress display: a rewritten line on a terminal, plain lines otherwise.
class progress_display {
public:
    progress_display(bool quiet) : quiet_(quiet), tty_(::isatty(2) == 1) {}

    void operator()(const cbs::fleet_event& e) {
        using k = cbs::fleet_event;
        switch (e.what) {
        case k::planned: ++planned_; break;
        case k::created: case k::adopted: ++created_; break;
        case k::normal: ++normal_; break;
        case k::failed: case k::unknown: ++failed_; break;
        case k::retrying: ++retries_; break;
        default: break;
        }
        if (quiet_) return;
        if (!tty_) {  // plain lines: the events worth a line
            if (e.what == k::failed || e.what == k::unknown || e.what == k::adopted)
                std::cerr << "cbsctl: " << e.instance_id << ": " << event_name(e.what) << " " << e.detail << "\n";
            if (e.what == k::created && created_ % 100 == 0) line(false);
            return;
        }
        line(true);
    }

    void finish() {
        if (!quiet_ && tty_) std::cerr << "\n";
    }

private:
    static const char* event_name(cbs::fleet_event::kind k) {
        switch (k) {
        case cbs::fleet_event::failed: return "failed";
        case cbs::fleet_event::unknown: return "outcome unknown";
        case cbs::fleet_event::adopted: return "adopted existing group";
        default: return "";
        }
    }

    void line(bool rewrite) {
        auto now = std::chrono::steady_clock::now();
        if (rewrite && now - last_ < std::chrono::milliseconds(100)) return;
        last_ = now;
        double secs = std::chrono::duration<double>(now - start_).count();
        double rate = secs > 0 ? created_ / secs : 0;
        std::ostringstream os;
        os << "created " << created_ << "/" << planned_ << "  normal " << normal_ << "  failed " << failed_
           << "  retries " << retries_ << "  " << std::fixed << std::setprecision(1) << rate << "/s";
        if (rate > 0 && planned_ > created_) os << "  ETA " << static_cast<int>((planned_ - created_) / rate) << "s";
        std::cerr << (rewrite ? "\r\033[K" : "") << "cbsctl: " << os.str() << (rewrite ? "" : "\n") << std::flush;
    }

    bool quiet_, tty_;
    std::size_t planned_ = 0, created_ = 0, normal_ = 0, failed_ = 0, retries_ = 0;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_{};
};

void print_summary(const cbs::fleet_report& r, const std::string& report_path) {
    const auto& s = r.summary;
    std::cerr << "cbsctl: run " << r.run_id << ": " << s.instances << " instances: " << s.normal << " normal, "
              << s.created << " created (not seen NORMAL), " << s.skipped << " skipped, " << s.failed << " failed, "
              << s.unknown << " unknown" << (s.adopted ? ", " + std::to_string(s.adopted) + " found from an earlier attempt" : "")
              << "\ncbsctl: discovery " << std::fixed << std::setprecision(1) << s.discover_s << " s, creates "
              << s.create_s << " s, total " << s.total_s << " s\n";
    for (const auto& i : r.instances)
        if (i.outcome == cbs::instance_outcome::failed || i.outcome == cbs::instance_outcome::unknown)
            std::cerr << "cbsctl:   " << i.instance_id << ": " << to_string(i.outcome) << ": " << i.error_message << "\n";
    std::cerr << "cbsctl: report: " << report_path << "\n";
}

/// Runs the fleet on `io` with `params`, writes the report, prints the summary.
int run_fleet(boost::asio::io_context& io, cbs::client& client, cbs::fleet_params fp, const std::string& report_path,
              bool json, std::function<void()> after = {}) {
    progress_display progress(json);
    std::optional<cbs::fleet_report> report;
    std::exception_ptr failure;
    // Ctrl-C (or SIGTERM): stop starting instances, let the run record what
    // is in flight, write the report. A second signal ends the process.
    boost::asio::cancellation_signal stop;
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    int signals_seen = 0;
    std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code& ec, int) {
        if (ec) return;
        if (++signals_seen > 1) std::_Exit(130);
        std::cerr << "\ncbsctl: stopping: finishing the calls in flight, then writing the report (again to quit now)\n";
        stop.emit(boost::asio::cancellation_type::terminal);
        signals.async_wait(on_signal);
    };
    signals.async_wait(on_signal);
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
            report = co_await cbs::async_snapshot_fleet(client, fp, std::ref(progress));
        },
        boost::asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e) {
            failure = e;
            signals.cancel();
            if (after) after();
        }));
    io.run();
    progress.finish();
    if (failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const cbs::error& e) {
            const bool usage = e.code() == cbs::client_errc::invalid_request || e.code() == cbs::client_errc::invalid_config;
            std::cerr << "cbsctl: snapshot-fleet: " << e.diag().to_string(e.code()) << "\n";
            return usage ? exit_usage : exit_failed;
        }
    }
    write_atomically(report_path, boost::json::serialize(cbs::to_json(*report)) + "\n");
    if (json) std::cout << boost::json::serialize(cbs::to_json(*report).at("summary")) << "\n";
    else print_summary(*report, report_path);
    return report->all_ok ? exit_ok : exit_failed;
}

}  // namespace

int run_snapshot_fleet(args& a) {
    connection_options conn;
    cbs::fleet_params fp;
    std::string report_path, instances_file;
    bool json = false, have_instances = false;
    std::map<std::string, double, std::less<>> rates;
    while (!a.done()) {
        if (conn.parse(a)) continue;
        if (auto v = a.value("--instances")) {
            for (auto& id : split_ids(*v)) fp.instance_ids.push_back(std::move(id));
            have_instances = true;
        } else if (auto v = a.value("--instances-file")) instances_file = *v;
        else if (a.flag("--all")) fp.all_instances = true;
        else if (auto v = a.value("--tag")) {
            auto eq = v->find('=');
            if (eq == std::string::npos || eq == 0) throw usage_error("--tag expects KEY=VALUE, got '" + *v + "'");
            fp.tag_filter = cbs::tag{v->substr(0, eq), v->substr(eq + 1)};
        } else if (auto v = a.value("--name-prefix")) fp.name_prefix = *v;
        else if (auto v = a.value("--run-id")) fp.run_id = *v;
        else if (auto v = a.value("--journal")) fp.journal_path = *v;
        else if (auto v = a.value("--report")) report_path = *v;
        else if (a.flag("--data-disks-only")) fp.data_disks_only = true;
        else if (a.flag("--no-wait")) fp.wait = false;
        else if (auto v = a.value("--deadline")) fp.instance_deadline = parse_duration(*v);
        else if (auto v = a.value("--rate")) {
            auto eq = v->find('=');
            if (eq == std::string::npos || eq == 0) throw usage_error("--rate expects ACTION=N, got '" + *v + "'");
            double n = 0;
            try { n = std::stod(v->substr(eq + 1)); } catch (...) { n = 0; }
            if (!(n > 0)) throw usage_error("--rate " + v->substr(0, eq) + ": N must be a positive number");
            rates[v->substr(0, eq)] = n;
        } else if (a.flag("--json")) json = true;
        else throw usage_error("snapshot-fleet: unknown option '" + a.peek() + "'");
    }
    if (!instances_file.empty()) {
        std::ifstream in(instances_file);
        if (!in) throw usage_error("cannot read --instances-file '" + instances_file + "': " + std::strerror(errno));
        std::stringstream ss;
        ss << in.rdbuf();
        for (auto& id : split_ids(ss.str())) fp.instance_ids.push_back(std::move(id));
        have_instances = true;
    }
    if (have_instances && fp.all_instances) throw usage_error("give --instances/--instances-file or --all, not both");
    if (!have_instances && !fp.all_instances) throw usage_error("snapshot-fleet needs --instances, --instances-file or --all");
    if (have_instances && fp.instance_ids.empty()) throw usage_error("the instance list is empty");
    if (fp.tag_filter && !fp.all_instances) throw usage_error("--tag only applies with --all");
    {
        std::set<std::string_view> seen;
        for (const auto& id : fp.instance_ids)
            if (!seen.insert(id).second) throw usage_error("instance '" + id + "' is listed twice");
    }
    if (fp.run_id.empty()) {
        fp.run_id = utc_run_id();
        if (!json) std::cerr << "cbsctl: run id " << fp.run_id << " (re-run with --run-id " << fp.run_id << " to resume)\n";
    }
    if (fp.journal_path.empty()) fp.journal_path = "cbsctl-" + fp.run_id + ".journal";
    if (report_path.empty()) report_path = "cbsctl-" + fp.run_id + ".report.json";

    auto params = make_client_params(conn);
    params.rate_overrides = std::move(rates);
    boost::asio::io_context io;
    std::optional<cbs::client> client;
    try {
        client.emplace(io.get_executor(), std::move(params));
    } catch (const cbs::error& e) {
        throw usage_error(e.diag().to_string(e.code()));
    }
    return run_fleet(io, *client, std::move(fp), report_path, json);
}

int run_demo(args& a) {
    long long instances = 200, seed = 1;
    bool faults = false;
    std::string report_path = "cbsctl-demo.report.json";
    while (!a.done()) {
        if (auto v = a.value("--instances")) instances = parse_number("--instances", *v);
        else if (auto v = a.value("--seed")) seed = parse_number("--seed", *v);
        else if (auto v = a.value("--report")) report_path = *v;
        else if (a.flag("--faults")) faults = true;
        else throw usage_error("demo: unknown option '" + a.peek() + "'");
    }
    if (instances == 0 || instances > 100000) throw usage_error("--instances must be in 1..100000");

    boost::asio::io_context io;
    cbs::emu::emulator_params ep;
    ep.fleet.instances = static_cast<std::size_t>(instances);
    ep.fleet.seed = static_cast<std::uint64_t>(seed);
    ep.fleet.creating_time = std::chrono::seconds(2);
    if (faults) {
        ep.faults.seed = static_cast<std::uint64_t>(seed);
        cbs::emu::fault_rule create;
        create.transient = 0.10;
        create.reset_after = 0.05;
        create.gateway_502 = 0.02;
        ep.faults.rules["CreateSnapshotGroup"] = create;
        cbs::emu::fault_rule describe;
        describe.transient = 0.05;
        ep.faults.rules["DescribeSnapshotGroups"] = describe;
        ep.faults.rules["DescribeDisks"] = describe;
    }
    cbs::emu::emulator emu(io.get_executor(), ep);
    emu.start();
    auto account = emu.accounts().front();
    std::cerr << "cbsctl: demo: embedded CBS emulator at " << emu.endpoint() << " with " << instances
              << " instances" << (faults ? ", faults on" : "") << "\n";

    cbs::client_params params;
    params.endpoint = emu.endpoint();
    params.pool.ca_file = emu.ca_file();
    params.creds = {account.secret_id, account.secret_key, account.token, "emulator"};
    params.request_timeout = std::chrono::seconds(10);
    cbs::client client(io.get_executor(), params);

    cbs::fleet_params fp;
    emu.inspect([&](cbs::emu::fleet_state& s) { fp.instance_ids = s.instance_ids(); });
    fp.name_prefix = "demo";
    fp.run_id = utc_run_id();
    fp.poll_interval = std::chrono::milliseconds(500);
    const std::string run_suffix = "-" + fp.run_id;
    const auto planned = fp.instance_ids.size();
    int status = run_fleet(io, client, std::move(fp), report_path, false, [&] { emu.stop(); });

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
