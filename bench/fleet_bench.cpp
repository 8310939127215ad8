// Fleet benchmark: create makespan for N instances against the embedded
// emulator at the default limits, as a ratio to the ideal N/20 s, without and
// with faults; and the client's memory with 100,000 instances queued.
//
//   fleet_bench [--instances N] [--rss-instances M] [--skip-rss] [--quick]
//
// The emulator runs in the same process on its own thread; its own memory is
// measured before the fleet starts and reported apart.
#include <cbs/emulator/emulator.hpp>
#include <cbs/fleet.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <sys/wait.h>
#include <unistd.h>

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
    server(std::size_t instances, bool faults) {
        emu::emulator_params p;
        p.fleet.instances = instances;
        p.fleet.creating_time = 2s;
        if (faults) {
            emu::fault_rule create;
            create.transient = 0.10;
            create.reset_after = 0.05;
            p.faults.rules["CreateSnapshotGroup"] = create;
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

void makespan(std::size_t n, bool faults) {
    server s(n, faults);
    asio::io_context io;
    cbs::client c(io.get_executor(), s.client_params());
    cbs::fleet_params fp;
    fp.instance_ids = s.instances();
    fp.run_id = "bench";
    std::optional<cbs::fleet_report> report;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> { report = co_await cbs::async_snapshot_fleet(c, fp); },
                   [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
    io.run();
    std::size_t throttled = 0;
    for (const auto& r : s.emu->request_log()) throttled += r.outcome.rfind("RequestLimitExceeded", 0) == 0;
    std::map<std::string, int> groups;
    std::size_t duplicates = 0;
    s.emu->inspect([&](emu::fleet_state& st) {
        for (const auto& g : st.groups()) duplicates += ++groups[g.instance_id] == 2;
    });
    const auto& sum = report->summary;
    const double ideal = n / 20.0;
    std::printf("| %5zu instances, %-9s | %8.1f s | %6.1f s | %5.3f | %5zu | %5zu | %4zu | %4zu | %9zu | %10zu |\n", n,
                faults ? "faults" : "no faults", sum.create_s, ideal, sum.create_s / ideal, sum.normal, sum.skipped,
                sum.failed + sum.unknown, sum.adopted, throttled, duplicates);
}

void memory(std::size_t n) {
    server s(n, false);
    const long emulator_kb = rss_kb("VmRSS:");
    asio::io_context io;
    cbs::client c(io.get_executor(), s.client_params());
    cbs::fleet_params fp;
    fp.instance_ids = s.instances();
    fp.run_id = "rss";
    fp.wait = false;
    std::size_t planned = 0, created = 0;
    asio::co_spawn(io, cbs::async_snapshot_fleet(c, fp, [&](const cbs::fleet_event& e) {
        planned += e.what == cbs::fleet_event::planned;
        created += e.what == cbs::fleet_event::created;
    }), [](std::exception_ptr, cbs::fleet_report) {});
    // Discovery (DescribeDisks at 95/s, ~3 pages per 100 instances), then 10 s
    // of creating at 19/s with every instance queued.
    const auto start = steady_clock::now();
    while (planned < n && steady_clock::now() - start < 180s) io.run_for(1s);
    io.run_for(10s);
    const long peak_kb = rss_kb("VmHWM:"), now_kb = rss_kb("VmRSS:");
    std::printf("\n| instances queued | planned | created | emulator RSS | process RSS now / peak | client side |\n"
                "|---|---|---|---|---|---|\n"
                "| %zu | %zu | %zu | %ld MB | %ld / %ld MB | ~%ld MB |\n",
                n, planned, created, emulator_kb / 1024, now_kb / 1024, peak_kb / 1024, (now_kb - emulator_kb) / 1024);
    std::fflush(stdout);
    ::_exit(0);  // the run cannot be cancelled yet; end the process here
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t n = 1000, rss_n = 100'000;
    bool skip_rss = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--instances" && i + 1 < argc) n = std::stoul(argv[++i]);
        else if (a == "--rss-instances" && i + 1 < argc) rss_n = std::stoul(argv[++i]);
        else if (a == "--skip-rss") skip_rss = true;
        else if (a == "--quick") n = 200, rss_n = 20'000;
        else {
            std::fprintf(stderr, "usage: fleet_bench [--instances N] [--rss-instances M] [--skip-rss] [--quick]\n");
            return 2;
        }
    }
    std::printf("| case | create makespan | ideal N/20 | ratio | normal | skipped | failed | adopted | throttled | duplicates |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
    std::fflush(stdout);
    makespan(n, false);
    makespan(n, true);
    std::fflush(stdout);
    if (!skip_rss) {
        // In a child, so the _exit there does not end this process early.
        if (pid_t pid = ::fork(); pid == 0) memory(rss_n);
        else ::waitpid(pid, nullptr, 0);
    }
}
