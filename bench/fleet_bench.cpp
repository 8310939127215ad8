// Fleet benchmark: create makespan for N instances against the embedded
// emulator at the default limits, as a ratio to the ideal N/20 s, without and
// with faults; and the client's memory with 100,000 instances queued.
//
//   fleet_bench [--instances N] [--rss-instances M] [--skip-rss] [--runs R]
//               [--quick] [--json FILE]
//
// Each figure is the median of R runs (3), min and max beside it. The runs
// go side by side: each fleet has its own emulator (own thread, own rate
// windows) and its own client thread, and at 19 creates/s each the machine
// is nearly idle, so they do not slow each other (the makespan is set by the
// rate limit, not by CPU). The memory runs (child processes) go alongside.
// --quick: 200 instances, and 10,000 queued for 3 s.
//
// The emulator runs in the same process on its own thread; its own memory is
// measured before the fleet starts and reported apart.
#include <cbs/emulator/emulator.hpp>
#include <cbs/fleet.hpp>

#include "bench_util.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <sys/wait.h>
#include <unistd.h>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <thread>

namespace asio = boost::asio;
namespace emu = cbs::emu;
using namespace std::chrono;

namespace {

long rss_kb(const char* field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::strlen(field)));
    return -1;
}

struct server {
    asio::io_context io;
    std::unique_ptr<emu::emulator> emu;
    std::thread thread;
    /// `seed`: of the fault RNG, so side-by-side runs draw different faults.
    /// `mode`: 0 no faults; 1 10% transient errors and 5% answers lost after
    /// the create; 2 as 1 with 10% lost, 15% answered 2.5 s late and a listing
    /// lag of 8 s (new groups invisible to DescribeSnapshotGroups that long).
    server(std::size_t instances, int mode, std::uint64_t seed = 1) {
        emu::emulator_params p;
        p.fleet.instances = instances;
        p.fleet.creating_time = 2s;
        if (mode > 0) {
            emu::fault_rule create;
            create.transient = 0.10;
            create.reset_after = mode == 2 ? 0.10 : 0.05;
            if (mode == 2) {
                create.slow = 0.15;
                p.faults.slow_delay = 2500ms;
                p.faults.slow_delay_min = 2500ms;
                p.fleet.list_lag = 8s;
            }
            p.faults.rules["CreateSnapshotGroup"] = create;
            p.faults.seed = seed;
        }
        emu = std::make_unique<emu::emulator>(io.get_executor(), p);
        emu->start();
        thread = std::thread([this] { io.run(); });
    }
    ~server() {
        asio::post(io, [this] { emu->stop(); });
        thread.join();
    }
    cbs::client_params client_params() {
        auto a = emu->accounts().front();
        cbs::client_params p;
        p.endpoint = emu->endpoint();
        p.pool.ca_file = emu->ca_file();
        p.creds = {a.secret_id, a.secret_key, a.token, "emulator"};
        return p;
    }
    std::vector<std::string> instances() {
        std::vector<std::string> ids;
        emu->inspect([&](emu::fleet_state& s) { ids = s.instance_ids(); });
        return ids;
    }
};

struct makespan_result {
    double create_s = 0;
    std::size_t normal = 0, skipped = 0, failed = 0, adopted = 0, throttled = 0, duplicates = 0;
    std::size_t found = 0, deleted = 0;  // extra groups the run created and its sweep deleted
};

makespan_result makespan(std::size_t n, int mode, std::uint64_t seed) {
    server s(n, mode, seed);
    asio::io_context io;
    cbs::client c(io.get_executor(), s.client_params());
    cbs::fleet_params fp;
    fp.instance_ids = s.instances();
    fp.run_id = "bench";
    std::optional<cbs::fleet_report> report;
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { report = co_await cbs::async_snapshot_fleet(c, fp); },
        [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    io.run();
    makespan_result r;
    for (const auto& l : s.emu->request_log()) r.throttled += l.throttled;
    std::map<std::string, int> groups;
    s.emu->inspect([&](emu::fleet_state& st) {
        for (const auto& g : st.groups()) r.duplicates += ++groups[g.instance_id] == 2;
    });
    const auto& sum = report->summary;
    r.create_s = sum.create_s;
    r.normal = sum.normal;
    r.skipped = sum.skipped;
    r.failed = sum.failed + sum.unknown;
    r.adopted = sum.adopted;
    r.found = sum.duplicates_found;
    r.deleted = sum.duplicates_deleted;
    return r;
}

/// `runs` fleets of `n` instances in each mode (see server), all at once.
void makespans(std::size_t n, int runs, boost::json::object& json) {
    const auto count = static_cast<std::size_t>(runs);
    std::vector<std::vector<makespan_result>> results(3, std::vector<makespan_result>(count));
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < count; ++i)
        for (int mode = 0; mode < 3; ++mode)
            threads.emplace_back([&, i, mode] { results[mode][i] = makespan(n, mode, i + 1); });
    for (auto& t : threads) t.join();
    const double ideal = double(n) / 20.0;
    boost::json::array rows;
    static const char* const names[] = {"no faults", "faults", "lag 8 s + faults + slow"};
    for (int mode = 0; mode < 3; ++mode) {
        const auto& rs = results[mode];
        std::vector<double> span, ratio, adopted;
        std::size_t normal_min = n, skipped = 0, failed = 0, throttled = 0, duplicates = 0, found = 0, deleted = 0;
        for (const auto& r : rs) {
            span.push_back(r.create_s);
            ratio.push_back(r.create_s / ideal);
            adopted.push_back(double(r.adopted));
            normal_min = std::min(normal_min, r.normal);
            skipped = std::max(skipped, r.skipped);
            failed += r.failed;
            throttled += r.throttled;
            duplicates += r.duplicates;
            found += r.found;
            deleted += r.deleted;
        }
        std::printf("| %zu instances, %s | %s s | %.1f s | %s | %zu | %zu | %zu | %s | %zu | %zu / %zu | %zu |\n", n,
                    names[mode], cbs_bench::fmt3(cbs_bench::summarize(span), "%.1f").c_str(), ideal,
                    cbs_bench::fmt3(cbs_bench::summarize(ratio), "%.3f").c_str(), normal_min, skipped, failed,
                    cbs_bench::fmt3(cbs_bench::summarize(adopted), "%.0f").c_str(), throttled, found, deleted,
                    duplicates);
        rows.push_back(boost::json::object{{"case", names[mode]},
                                           {"instances", n},
                                           {"ideal_s", ideal},
                                           {"create_s", cbs_bench::to_json(span)},
                                           {"ratio_to_ideal", cbs_bench::to_json(ratio)},
                                           {"adopted", cbs_bench::to_json(adopted)},
                                           {"normal_min", normal_min},
                                           {"failed_total", failed},
                                           {"throttled_total", throttled},
                                           {"duplicates_created_total", found},
                                           {"duplicates_deleted_total", deleted},
                                           {"duplicates_left_total", duplicates}});
    }
    std::fflush(stdout);
    json["makespan"] = std::move(rows);
}

/// In a child process: discovery of `n` instances and the first lookup of
/// their names, then `creating` of creating with every instance queued. Writes "emulator_kb rss_kb peak_kb
/// planned created" to `out_fd` and ends the process (the run cannot be
/// cancelled yet).
[[noreturn]] void memory(std::size_t n, seconds creating, int out_fd) {
    server s(n, false);
    const long emulator_kb = rss_kb("VmRSS:");
    asio::io_context io;
    cbs::client c(io.get_executor(), s.client_params());
    cbs::fleet_params fp;
    fp.instance_ids = s.instances();
    fp.run_id = "rss";
    fp.wait = false;
    std::size_t planned = 0, created = 0;
    asio::co_spawn(io,
                   cbs::async_snapshot_fleet(c, fp,
                                             [&](const cbs::fleet_event& e) {
                                                 planned += e.what == cbs::fleet_event::planned;
                                                 created += e.what == cbs::fleet_event::created;
                                             }),
                   [](std::exception_ptr, cbs::fleet_report) {});
    // Discovery (DescribeDisks at 95/s, ~3 pages per 100 instances), the
    // first lookup of every planned name (100 per DescribeSnapshotGroups at
    // 19/s: ~53 s for 100,000), then creating at 19/s with every instance
    // queued: measured once creates are flowing.
    const auto start = steady_clock::now();
    while (planned < n && steady_clock::now() - start < 180s) io.run_for(1s);
    while (created == 0 && steady_clock::now() - start < 300s) io.run_for(1s);
    io.run_for(creating);
    char line[160];
    const int len = std::snprintf(line, sizeof line, "%ld %ld %ld %zu %zu\n", emulator_kb, rss_kb("VmRSS:"),
                                  rss_kb("VmHWM:"), planned, created);
    const bool ok = ::write(out_fd, line, std::size_t(len)) == len;
    ::_exit(ok ? 0 : 1);
}

struct memory_children {
    std::size_t n = 0;
    std::vector<std::pair<pid_t, int>> children;  // pid, read end of its pipe
};

/// Starts `runs` memory children side by side; they run while the makespans
/// do (separate processes: their RSS is their own).
memory_children start_memories(std::size_t n, seconds creating, int runs) {
    memory_children m{n, {}};
    for (int i = 0; i < runs; ++i) {
        int fds[2];
        if (::pipe(fds) != 0) throw std::runtime_error("pipe");
        const pid_t pid = ::fork();
        if (pid == 0) {
            ::close(fds[0]);
            memory(n, creating, fds[1]);
        }
        ::close(fds[1]);
        m.children.push_back({pid, fds[0]});
    }
    return m;
}

/// Waits for the memory children and prints their table.
void finish_memories(const memory_children& m, boost::json::object& json) {
    const auto n = m.n;
    std::vector<double> emulator_mb, now_mb, peak_mb, client_mb;
    std::size_t planned = n, created = 0;
    for (auto [pid, fd] : m.children) {
        char buf[160] = {};
        const auto got = ::read(fd, buf, sizeof buf - 1);
        ::close(fd);
        int status = 0;
        ::waitpid(pid, &status, 0);
        long e = 0, r = 0, p = 0;
        std::size_t pl = 0, cr = 0;
        if (got <= 0 || std::sscanf(buf, "%ld %ld %ld %zu %zu", &e, &r, &p, &pl, &cr) != 5) {
            std::fprintf(stderr, "fleet_bench: a memory run failed (status %d)\n", status);
            continue;
        }
        emulator_mb.push_back(double(e) / 1024);
        now_mb.push_back(double(r) / 1024);
        peak_mb.push_back(double(p) / 1024);
        client_mb.push_back(double(r - e) / 1024);
        planned = std::min(planned, pl);
        created = std::max(created, cr);
    }
    using cbs_bench::fmt3;
    using cbs_bench::summarize;
    std::printf(
        "\nMemory: median of %zu runs (min-max), each a child process: discovery, the first lookup, then creating with "
        "every "
        "instance queued.\n",
        m.children.size());
    std::printf(
        "\n| instances queued | planned (min) | created (max) | emulator RSS MB | process RSS MB | process peak "
        "MB | client side MB (target <= 200) |\n"
        "|---|---|---|---|---|---|---|\n"
        "| %zu | %zu | %zu | %s | %s | %s | %s |\n",
        n, planned, created, fmt3(summarize(emulator_mb), "%.0f").c_str(), fmt3(summarize(now_mb), "%.0f").c_str(),
        fmt3(summarize(peak_mb), "%.0f").c_str(), fmt3(summarize(client_mb), "%.0f").c_str());
    std::fflush(stdout);
    json["memory"] = boost::json::object{{"instances_queued", n},
                                         {"planned_min", planned},
                                         {"emulator_mb", cbs_bench::to_json(emulator_mb)},
                                         {"process_mb", cbs_bench::to_json(now_mb)},
                                         {"process_peak_mb", cbs_bench::to_json(peak_mb)},
                                         {"client_mb", cbs_bench::to_json(client_mb)}};
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t n = 1000, rss_n = 100'000;
    seconds creating = 10s;
    int runs = 3;
    bool skip_rss = false;
    std::string json_path;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--instances" && i + 1 < argc)
            n = std::stoul(argv[++i]);
        else if (a == "--rss-instances" && i + 1 < argc)
            rss_n = std::stoul(argv[++i]);
        else if (a == "--runs" && i + 1 < argc)
            runs = std::max(1, std::stoi(argv[++i]));
        else if (a == "--json" && i + 1 < argc)
            json_path = argv[++i];
        else if (a == "--skip-rss")
            skip_rss = true;
        else if (a == "--quick")
            n = 200, rss_n = 10'000, creating = 3s;
        else {
            std::fprintf(stderr,
                         "usage: fleet_bench [--instances N] [--rss-instances M] [--skip-rss] [--runs R] "
                         "[--quick] [--json FILE]\n");
            return 2;
        }
    }
    boost::json::object json{{"bench", "fleet"}, {"runs", runs}};
    memory_children mem;
    if (!skip_rss) mem = start_memories(rss_n, creating, runs);  // forks: before any thread exists
    std::printf(
        "\nMedian of %d runs side by side (min-max); counts are the worst run (normal, skipped) or the sum "
        "over runs (failed, throttled, duplicates). Duplicates: created by the run / deleted by its "
        "sweep, and left in the emulator's state at the end.\n\n",
        runs);
    std::printf(
        "| case | create makespan | ideal N/20 | ratio | normal | skipped | failed | adopted | throttled | "
        "duplicates created / deleted | duplicates left |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
    std::fflush(stdout);
    makespans(n, runs, json);
    if (!skip_rss) finish_memories(mem, json);
    cbs_bench::write_json(json_path, json);
}
