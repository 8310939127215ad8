// Call benchmark: the full client path (build the JSON body, sign, lease a
// pooled TLS keep-alive connection, exchange, parse the envelope and the typed
// response) from one client on one thread, limiter off.
//
//   call_bench [--quick] [--runs N] [--seconds S] [--emulator-only] [--nginx-only]
//              [--concurrency N] [--no-strand] [--no-wrk] [--json FILE]
//              [--nginx URL --nginx-idle URL --ca FILE [--wrk PATH]]
//   call_bench --memory [--quick] [--runs N] [--json FILE]
//
// 1. Throughput and latency at concurrency 1, 8, 64, 256 against
//    (a) the embedded emulator, limits off, on its own thread and io_context;
//    (b) nginx answering a canned CreateSnapshotGroup (set up by bench/run),
//        next to `wrk -t1 -c N` against the same nginx: the ceiling.
//    Each run uses a fresh client; the pool's max_size is max(16, N) so the
//    client keeps as many connections as wrk (rows "pool 16" keep the default).
//    Full runs add rows against nginx with client_params::thread_safe off (no
//    strand, no hop per call: what a single-threaded service can choose);
//    --no-strand runs every row that way. Each client row also gives the
//    allocations (operator new calls, counted by alloc_count.cpp) and bytes
//    per call in the steady state.
// 2. Pool behaviour: connections opened in the first 10,000 calls of a run
//    (fewer calls with --quick), and the cost of a call whose pooled
//    connection the server closed while it was idle (server idle timeout
//    100 ms, the client waits 300 ms) next to a reused call.
// 3. --memory: RSS per call in flight, 10,000 calls against an emulator (in a
//    child process) that delays every answer by 20 s.
// Each figure is the median of N runs (3), min and max beside it; client and
// wrk runs are interleaved so drift hits both alike. --quick: runs of 0.5 s
// (wrk 1 s), 5 stale samples, no "256 calls on the default pool" row, the
// memory row with the default pool only.
#include "alloc_count.hpp"
#include "bench_util.hpp"

#include <cbs/client.hpp>
#include <cbs/emulator/emulator.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace emu = cbs::emu;
namespace json = boost::json;
using namespace std::chrono;
using cbs_bench::fmt3;
using cbs_bench::stat3;
using cbs_bench::summarize;

namespace {

double percentile(std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    auto k = std::min(v.size() - 1, std::size_t(p * double(v.size())));
    std::nth_element(v.begin(), v.begin() + long(k), v.end());
    return v[k];
}

long rss_kb() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

// ---------------------------------------------------------------------------
// The embedded emulator on its own thread.

struct emu_server {
    asio::io_context io{1};
    std::unique_ptr<emu::emulator> emu;
    std::thread thread;
    std::string disk;

    explicit emu_server(milliseconds idle_timeout = 60s, std::optional<emu::fault_params> faults = {}) {
        emu::emulator_params p;
        p.fleet.instances = 4;
        p.fleet.creating_time = 0ms;  // a disk is free again at once: the same disk can be snapshotted in a loop
        p.fleet.snapshot_quota = 1u << 30;
        p.fleet.no_snapshot_ability = 0;
        p.rate_limits.enabled = false;
        p.max_log_records = 1000;
        p.idle_timeout = idle_timeout;
        if (faults) p.faults = *faults;
        emu = std::make_unique<emu::emulator>(io.get_executor(), p);
        emu->start();
        emu->inspect([&](emu::fleet_state& s) {
            for (const auto& d : s.disks_of(s.instance_ids().front()))
                if (d.snapshot_ability && disk.empty()) disk = d.disk_id;
        });
        thread = std::thread([this] { io.run(); });
    }
    ~emu_server() {
        asio::post(io, [this] { emu->stop(); });
        thread.join();
    }
    cbs::client_params client_params() const {
        auto a = emu->accounts().front();
        cbs::client_params p;
        p.endpoint = emu->endpoint();
        p.pool.ca_file = emu->ca_file();
        p.creds = {a.secret_id, a.secret_key, a.token, "emulator"};
        p.rate_limit = false;
        return p;
    }
};

// ---------------------------------------------------------------------------
// Closed-loop load: `conc` coroutines on one io_context, each calling
// CreateSnapshotGroup in a loop.

struct load_result {
    double rate = 0, p50_ms = 0, p99_ms = 0;
    std::uint64_t calls = 0, errors = 0;
    std::uint64_t opened = 0, opened_at_calls = 0;  // connections opened in the first `opened_at_calls` calls
    std::uint64_t stale_retries = 0, retries = 0;
    std::string first_error;
    // Steady state: allocations (every thread of the process) and bytes per
    // call between the first call that ends after the warm-up and the first
    // that ends after the measured span, divided by the calls in between.
    // Counts the bench's own loop too (one vector per request: 1 allocation).
    double allocs_per_call = 0, bytes_per_call = 0;
};

load_result run_load(cbs::client_params p, std::size_t conc, const std::string& disk, nanoseconds warm,
                     nanoseconds span) {
    asio::io_context io(1);
    cbs::client c(io.get_executor(), std::move(p));
    load_result out;
    std::vector<double> lat;
    lat.reserve(1u << 18);
    std::uint64_t in_window = 0;
    std::optional<cbs_bench::alloc_snapshot> a0, a1;
    std::uint64_t c0 = 0, c1 = 0;
    const auto start = steady_clock::now(), measure = start + warm, end = measure + span;
    constexpr std::uint64_t pool_sample = 10'000;
    for (std::size_t i = 0; i < conc; ++i)
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                for (;;) {
                    const auto t0 = steady_clock::now();
                    if (t0 >= end) co_return;
                    cbs::create_snapshot_group_request req;
                    req.disk_ids.push_back(disk);
                    req.snapshot_group_name = "bench";
                    auto r = co_await c.async_create_snapshot_group(std::move(req), cbs::as_result);
                    const auto t1 = steady_clock::now();
                    ++out.calls;
                    if (!r) {
                        if (out.errors++ == 0) out.first_error = r.diag.client_message + " " + r.diag.server_code;
                    }
                    if (out.calls == pool_sample) {
                        out.opened = c.stats().connections_opened;
                        out.opened_at_calls = pool_sample;
                    }
                    if (t1 >= measure && t1 < end) ++in_window;
                    if (!a0 && t1 >= measure) a0 = cbs_bench::allocations(), c0 = out.calls;
                    if (!a1 && t1 >= end) a1 = cbs_bench::allocations(), c1 = out.calls;
                    if (t0 >= measure && t1 < end) lat.push_back(duration<double, std::milli>(t1 - t0).count());
                }
            },
            asio::detached);
    io.run();
    if (out.opened_at_calls == 0) {
        out.opened = c.stats().connections_opened;
        out.opened_at_calls = out.calls;
    }
    out.stale_retries = c.stats().stale_retries;
    out.retries = c.stats().retries;
    out.rate = double(in_window) / duration<double>(span).count();
    if (a0 && a1 && c1 > c0) {
        out.allocs_per_call = double(a1->count - a0->count) / double(c1 - c0);
        out.bytes_per_call = double(a1->bytes - a0->bytes) / double(c1 - c0);
    }
    out.p50_ms = percentile(lat, 0.50);
    out.p99_ms = percentile(lat, 0.99);
    return out;
}

// ---------------------------------------------------------------------------
// wrk: the ceiling.

struct wrk_result {
    double rate = 0, p50_ms = 0, p99_ms = 0;
    bool ok = false;
    std::string errors;
};

double parse_wrk_time(const char* s) {
    char unit[8] = {};
    double v = 0;
    if (std::sscanf(s, "%lf%7s", &v, unit) < 1) return 0;
    std::string u = unit;
    if (u == "us") return v / 1000;
    if (u == "ms") return v;
    if (u == "s") return v * 1000;
    if (u == "m") return v * 60'000;
    return v;
}

wrk_result run_wrk(const std::string& wrk, const std::string& url, std::size_t conc, int seconds) {
    wrk_result r;
    const std::string cmd =
        wrk + " -t1 -c" + std::to_string(conc) + " -d" + std::to_string(seconds) + "s --latency " + url + " 2>&1";
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f) return r;
    char line[512];
    while (std::fgets(line, sizeof line, f)) {
        const char* s = line;
        while (*s == ' ' || *s == '\t') ++s;
        if (!std::strncmp(s, "Requests/sec:", 13))
            r.rate = std::atof(s + 13), r.ok = true;
        else if (!std::strncmp(s, "50%", 3))
            r.p50_ms = parse_wrk_time(s + 3);
        else if (!std::strncmp(s, "99%", 3))
            r.p99_ms = parse_wrk_time(s + 3);
        else if (!std::strncmp(s, "Socket errors", 13) || !std::strncmp(s, "Non-2xx", 7)) {
            r.errors += s;
            if (!r.errors.empty() && r.errors.back() == '\n') r.errors.pop_back();
        }
    }
    ::pclose(f);
    return r;
}

// ---------------------------------------------------------------------------
// Throughput tables.

struct options {
    bool quick = false, emulator_only = false, nginx_only = false, no_wrk = false;
    bool no_strand = false;     // --no-strand: every row with client_params::thread_safe off
    std::size_t only_conc = 0;  // 0: all of concurrencies[]
    int runs = 3;
    double seconds = 2.0;
    std::string nginx, nginx_idle, ca, wrk = "wrk";
    std::string json_path;  // --json FILE: the figures as JSON too
};

struct series {
    std::vector<double> rate, p50, p99, allocs, bytes;
    load_result first;  // pool figures of the first run
    std::uint64_t errors = 0;
    std::string first_error;
    void add(const load_result& r) {
        if (rate.empty()) first = r;
        rate.push_back(r.rate);
        p50.push_back(r.p50_ms);
        p99.push_back(r.p99_ms);
        allocs.push_back(r.allocs_per_call);
        bytes.push_back(r.bytes_per_call);
        errors += r.errors + r.retries;
        if (first_error.empty()) first_error = r.first_error;
    }
};

/// One row: concurrency, the pool's max_size, and client_params::thread_safe.
struct load_case {
    std::size_t conc = 1, pool = 16;
    bool thread_safe = true;
};

json::object series_json(const load_case& c, const series& s) {
    return {{"concurrency", c.conc},
            {"pool_max", c.pool},
            {"thread_safe", c.thread_safe},
            {"calls_per_s", cbs_bench::to_json(s.rate)},
            {"p50_ms", cbs_bench::to_json(s.p50)},
            {"p99_ms", cbs_bench::to_json(s.p99)},
            {"connections_opened", s.first.opened},
            {"in_first_calls", s.first.opened_at_calls},
            {"errors_and_retries", s.errors},
            {"allocations_per_call", cbs_bench::to_json(s.allocs)},
            {"bytes_per_call", cbs_bench::to_json(s.bytes)}};
}

void print_client_row(const load_case& c, const series& s) {
    std::printf("| %zu | %zu%s | %s | %s | %s | %llu / %llu | %llu | %.1f (%.0f) |", c.conc, c.pool,
                c.thread_safe ? "" : ", thread_safe off", fmt3(summarize(s.rate), "%.0f").c_str(),
                fmt3(summarize(s.p50), "%.2f").c_str(), fmt3(summarize(s.p99), "%.2f").c_str(),
                (unsigned long long)s.first.opened, (unsigned long long)s.first.opened_at_calls,
                (unsigned long long)s.errors, summarize(s.allocs).median, summarize(s.bytes).median);
}

const std::size_t concurrencies[] = {1, 8, 64, 256};

/// The pool as large as the concurrency (at least the default 16), the
/// default thread_safe client; in full runs also 256 calls on the default
/// pool, and (with `no_strand_rows`) 8, 64 and 256 without the strand.
std::vector<load_case> case_list(const options& o, bool no_strand_rows) {
    std::vector<load_case> cases;
    for (auto c : concurrencies)
        if (!o.only_conc || o.only_conc == c) cases.push_back({c, std::max<std::size_t>(16, c)});
    if (o.only_conc && cases.empty()) cases.push_back({o.only_conc, std::max<std::size_t>(16, o.only_conc)});
    if (o.no_strand) {
        for (auto& c : cases) c.thread_safe = false;
        return cases;
    }
    if (!o.quick && !o.only_conc) {
        cases.push_back({256, 16});
        if (no_strand_rows)
            for (std::size_t c : {8, 64, 256}) cases.push_back({c, c < 16 ? 16 : c, false});
    }
    return cases;
}

void emulator_table(const options& o, json::object& out) {
    const auto warm = o.quick ? 200ms : 300ms;
    const auto span = duration_cast<nanoseconds>(duration<double>(o.seconds));
    std::printf("### (a) Embedded emulator, limits off (server on a second thread)\n\n");
    std::printf(
        "Median of %d runs of %.1f s (min-max). \"opened / calls\": connections the client opened in the "
        "first calls of a run.\n\n",
        o.runs, o.seconds);
    std::printf(
        "| concurrency | pool max | calls/s | p50 ms | p99 ms | opened / calls | errors + retries | allocations "
        "(bytes) per call, server's included |\n");
    std::printf("|---|---|---|---|---|---|---|---|\n");
    std::fflush(stdout);
    const auto cases = case_list(o, false);
    json::array rows;
    for (const auto& lc : cases) {
        emu_server server;  // fresh per concurrency: its group table stays small
        series s;
        for (int r = 0; r < o.runs; ++r) {
            auto p = server.client_params();
            p.pool.max_size = lc.pool;
            p.thread_safe = lc.thread_safe;
            s.add(run_load(p, lc.conc, server.disk, warm, span));
        }
        print_client_row(lc, s);
        std::printf("\n");
        if (s.errors) std::printf("<!-- first error: %s -->\n", s.first_error.c_str());
        std::fflush(stdout);
        rows.push_back(series_json(lc, s));
    }
    std::printf("\n");
    out["emulator"] = std::move(rows);
}

cbs::client_params nginx_params(const std::string& url, const std::string& ca) {
    cbs::client_params p;
    p.endpoint = url;
    p.pool.ca_file = ca;
    p.creds = {"AKIDbenchbenchbenchbenchbenchbench00", "benchbenchbenchbenchbenchbenchbe", "", "bench"};
    p.rate_limit = false;
    return p;
}

void nginx_table(const options& o, json::object& out) {
    const auto warm = o.quick ? 200ms : 300ms;
    const auto span = duration_cast<nanoseconds>(duration<double>(o.seconds));
    const int wrk_seconds = std::max(1, int(o.seconds + 0.5));
    const std::string disk = "disk-a1b2c3d4";
    std::printf("### (b) nginx, canned CreateSnapshotGroup answer, next to wrk (the ceiling)\n\n");
    std::printf(
        "Median of %d runs (min-max); client runs of %.1f s, wrk runs of %d s, interleaved. "
        "wrk: `wrk -t1 -cN --latency`. Allocations: operator new calls (and bytes) per call in the steady "
        "state (after the warm-up), median of the runs; the bench's loop makes 1 of them.\n\n",
        o.runs, o.seconds, wrk_seconds);
    std::printf(
        "| concurrency | pool max | client calls/s | p50 ms | p99 ms | opened / calls | errors + retries | "
        "allocations (bytes) per call | wrk req/s | wrk p50 ms | wrk p99 ms | client / wrk (target >= 50%%) |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    std::fflush(stdout);
    const auto cases = case_list(o, true);
    json::array rows;
    for (const auto& lc : cases) {
        series s;
        std::vector<double> wr, wp50, wp99;
        std::string werr;
        for (int r = 0; r < o.runs; ++r) {
            auto p = nginx_params(o.nginx, o.ca);
            p.pool.max_size = lc.pool;
            p.thread_safe = lc.thread_safe;
            s.add(run_load(p, lc.conc, disk, warm, span));
            if (o.no_wrk) continue;
            auto w = run_wrk(o.wrk, o.nginx + "/", lc.conc, wrk_seconds);
            if (w.ok) wr.push_back(w.rate), wp50.push_back(w.p50_ms), wp99.push_back(w.p99_ms);
            if (!w.errors.empty()) werr = w.errors;
        }
        print_client_row(lc, s);
        const auto w = summarize(wr);
        if (wr.empty())
            std::printf(" - | - | - | - |\n");
        else
            std::printf(" %s | %s | %s | %.0f%% |\n", fmt3(w, "%.0f").c_str(), fmt3(summarize(wp50), "%.2f").c_str(),
                        fmt3(summarize(wp99), "%.2f").c_str(), 100.0 * summarize(s.rate).median / w.median);
        if (s.errors) std::printf("<!-- first client error: %s -->\n", s.first_error.c_str());
        if (!werr.empty()) std::printf("<!-- wrk: %s -->\n", werr.c_str());
        std::fflush(stdout);
        auto row = series_json(lc, s);
        if (!wr.empty()) {
            row["wrk_req_per_s"] = cbs_bench::to_json(wr);
            row["wrk_p50_ms"] = cbs_bench::to_json(wp50);
            row["wrk_p99_ms"] = cbs_bench::to_json(wp99);
            row["client_over_wrk"] = summarize(s.rate).median / w.median;
        }
        rows.push_back(std::move(row));
    }
    std::printf("\n");
    out["nginx"] = std::move(rows);
}

// ---------------------------------------------------------------------------
// A call whose pooled connection the server closed while idle.

struct stale_result {
    std::vector<double> reused, after_close;
    std::uint64_t opened = 0, stale_retries = 0, errors = 0, retries = 0;
};

stale_result measure_stale(cbs::client_params p, const std::string& disk, int samples, milliseconds idle_wait) {
    p.pool.max_size = 1;
    asio::io_context io(1);
    cbs::client c(io.get_executor(), std::move(p));
    stale_result out;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            asio::steady_timer t(io);
            auto call = [&]() -> asio::awaitable<double> {
                cbs::create_snapshot_group_request req;
                req.disk_ids.push_back(disk);
                req.snapshot_group_name = "bench";
                const auto t0 = steady_clock::now();
                auto r = co_await c.async_create_snapshot_group(std::move(req), cbs::as_result);
                if (!r) ++out.errors;
                co_return duration<double, std::micro>(steady_clock::now() - t0).count();
            };
            co_await call();  // opens the connection
            for (int i = 0; i < samples; ++i) {
                co_await call();  // warm the path again after the reconnect
                out.reused.push_back(co_await call());
                t.expires_after(idle_wait);
                co_await t.async_wait(asio::use_awaitable);
                out.after_close.push_back(co_await call());
            }
        },
        asio::detached);
    io.run();
    out.opened = c.stats().connections_opened;
    out.stale_retries = c.stats().stale_retries;
    out.retries = c.stats().retries;
    return out;
}

void stale_table(const options& o, json::object& out) {
    const int samples = o.quick ? 5 : 20;
    const auto idle_wait = 300ms;
    std::printf("### Pool: a call that finds its pooled connection closed by the server\n\n");
    std::printf(
        "Server idle timeout 100 ms; the client waits %lld ms between calls, so the server has closed "
        "the pooled connection. %d samples each, median (min-max) in microseconds.\n\n",
        (long long)idle_wait.count(), samples);
    std::printf(
        "| server | reused call us | call after server close us | extra us | connections opened | stale "
        "retries | errors + retries |\n|---|---|---|---|---|---|---|\n");
    json::array rows;
    auto row = [&](const char* name, const stale_result& r) {
        const auto a = summarize(r.reused), b = summarize(r.after_close);
        rows.push_back(json::object{{"server", name},
                                    {"reused_us", cbs_bench::to_json(a)},
                                    {"after_server_close_us", cbs_bench::to_json(b)},
                                    {"connections_opened", r.opened},
                                    {"stale_retries", r.stale_retries},
                                    {"errors_and_retries", r.errors + r.retries}});
        std::printf("| %s | %s | %s | %.0f | %llu | %llu | %llu |\n", name, fmt3(a, "%.0f").c_str(),
                    fmt3(b, "%.0f").c_str(), b.median - a.median, (unsigned long long)r.opened,
                    (unsigned long long)r.stale_retries, (unsigned long long)(r.errors + r.retries));
        std::fflush(stdout);
    };
    {
        emu_server server(100ms);
        row("emulator", measure_stale(server.client_params(), server.disk, samples, idle_wait));
    }
    if (!o.nginx_idle.empty())
        row("nginx", measure_stale(nginx_params(o.nginx_idle, o.ca), "disk-a1b2c3d4", samples, idle_wait));
    std::printf("\n");
    out["stale"] = std::move(rows);
}

// ---------------------------------------------------------------------------
// Memory per in-flight call. The emulator runs in a child process (forked
// before any thread exists) so this process's RSS is the client's alone.

struct child_emulator {
    pid_t pid = -1;
    std::string endpoint, ca, id, key, disk;
};

child_emulator fork_emulator(milliseconds latency) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe");
    child_emulator c;
    c.pid = ::fork();
    if (c.pid == 0) {
        ::close(fds[0]);
        emu::fault_params f;
        f.latency = latency;
        emu::fault_rule rule;
        rule.latency = 1.0;
        f.rules["CreateSnapshotGroup"] = rule;
        int code = 0;
        {
            // Never destroyed: with answers still delayed, the emulator's
            // teardown is not what this measures; the state dir is removed by hand.
            auto* sp = new emu_server(60s, f);
            auto& s = *sp;
            auto a = s.emu->accounts().front();
            std::string msg = s.emu->endpoint() + "\n" + s.emu->ca_file() + "\n" + a.secret_id + "\n" + a.secret_key +
                              "\n" + s.disk + "\n";
            if (::write(fds[1], msg.data(), msg.size()) != ssize_t(msg.size())) code = 1;
            ::close(fds[1]);
            // Run until the parent sends SIGTERM; ~emu_server then removes the state dir.
            sigset_t set;
            sigemptyset(&set);
            sigaddset(&set, SIGTERM);
            int sig = 0;
            sigwait(&set, &sig);
            std::error_code ec;
            std::filesystem::remove_all(s.emu->state_dir(), ec);
        }
        ::_exit(code);
    }
    ::close(fds[1]);
    std::string all;
    char buf[1024];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) all.append(buf, std::size_t(n));
    ::close(fds[0]);
    std::vector<std::string> parts;
    for (std::size_t pos = 0, nl; (nl = all.find('\n', pos)) != std::string::npos; pos = nl + 1)
        parts.push_back(all.substr(pos, nl - pos));
    if (parts.size() != 5) throw std::runtime_error("emulator child did not start");
    c.endpoint = parts[0], c.ca = parts[1], c.id = parts[2], c.key = parts[3], c.disk = parts[4];
    return c;
}

/// In a child process: `calls` calls in flight on one client, then
/// "attempts open rss_before_kb rss_after_kb" to `out_fd`, and _exit.
[[noreturn]] void memory_row(const child_emulator& e, std::size_t calls, std::size_t pool, int out_fd) {
    asio::io_context io(1);
    cbs::client_params p;
    p.endpoint = e.endpoint;
    p.pool.ca_file = e.ca;
    p.pool.max_size = pool;
    p.creds = {e.id, e.key, "", "emulator"};
    p.rate_limit = false;
    p.request_timeout = 60s;
    cbs::client c(io.get_executor(), std::move(p));
    const long before = rss_kb();
    for (std::size_t i = 0; i < calls; ++i)
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                cbs::create_snapshot_group_request req;
                req.disk_ids.push_back(e.disk);
                req.snapshot_group_name = "bench-memory-per-call";
                co_await c.async_create_snapshot_group(std::move(req), cbs::as_result);
            },
            asio::detached);
    // Until every call has built and signed its request and the pool has
    // opened what it may (the answers take 20 s to come).
    const auto start = steady_clock::now();
    while (steady_clock::now() - start < 15s) {
        io.run_for(100ms);
        auto s = c.stats();
        if (s.attempts >= calls && s.open_connections >= std::min(pool, calls)) break;
    }
    io.run_for(300ms);
    const long after = rss_kb();
    const auto s = c.stats();
    char line[160];
    const int len = std::snprintf(line, sizeof line, "%llu %zu %ld %ld\n", (unsigned long long)s.attempts,
                                  s.open_connections, before, after);
    const bool ok = ::write(out_fd, line, std::size_t(len)) == len;
    // The client must outlive its calls, and these cannot finish for 20 s:
    // end the process here, before any destructor runs.
    ::_exit(ok ? 0 : 1);
}

int memory_main(const options& o) {
    auto e = fork_emulator(20s);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    std::printf(
        "### Memory per call in flight\n\nEmulator (in a child process) delays every CreateSnapshotGroup "
        "answer by 20 s; RSS of the client process before spawning the calls and once all are in "
        "flight. Median of %d runs (min-max), each in a fresh process.\n\n",
        o.runs);
    std::printf(
        "| calls in flight | pool max | requests signed | connections open | RSS before MB | RSS after MB | "
        "per call KB |\n|---|---|---|---|---|---|---|\n");
    std::fflush(stdout);
    json::array rows;
    // Each run in its own child: ::_exit ends the calls still in flight.
    auto row = [&](std::size_t calls, std::size_t pool) {
        std::vector<double> before_mb, after_mb, per_call_kb;
        unsigned long long attempts = 0;
        std::size_t open = 0;
        for (int r = 0; r < o.runs; ++r) {
            int fds[2];
            if (::pipe(fds) != 0) throw std::runtime_error("pipe");
            const pid_t pid = ::fork();
            if (pid == 0) {
                ::close(fds[0]);
                memory_row(e, calls, pool, fds[1]);
            }
            ::close(fds[1]);
            char buf[160] = {};
            const auto got = ::read(fds[0], buf, sizeof buf - 1);
            ::close(fds[0]);
            ::waitpid(pid, nullptr, 0);
            long before = 0, after = 0;
            if (got <= 0 || std::sscanf(buf, "%llu %zu %ld %ld", &attempts, &open, &before, &after) != 4) {
                std::fprintf(stderr, "call_bench: a memory run failed\n");
                continue;
            }
            before_mb.push_back(double(before) / 1024);
            after_mb.push_back(double(after) / 1024);
            per_call_kb.push_back(double(after - before) / double(calls));
        }
        std::printf("| %zu | %zu | %llu | %zu | %s | %s | %s |\n", calls, pool, attempts, open,
                    fmt3(summarize(before_mb), "%.0f").c_str(), fmt3(summarize(after_mb), "%.0f").c_str(),
                    fmt3(summarize(per_call_kb), "%.1f").c_str());
        std::fflush(stdout);
        rows.push_back(json::object{{"calls_in_flight", calls},
                                    {"pool_max", pool},
                                    {"requests_signed", attempts},
                                    {"connections_open", open},
                                    {"rss_before_mb", cbs_bench::to_json(before_mb)},
                                    {"rss_after_mb", cbs_bench::to_json(after_mb)},
                                    {"kb_per_call", cbs_bench::to_json(per_call_kb)}});
    };
    row(10'000, 16);
    if (!o.quick) row(1'000, 1'000);
    ::kill(e.pid, SIGTERM);
    ::waitpid(e.pid, nullptr, 0);
    std::printf("\n");
    cbs_bench::write_json(o.json_path, json::object{{"bench", "memory"}, {"runs", o.runs}, {"rows", std::move(rows)}});
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    bool memory = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
            return argv[++i];
        };
        if (a == "--quick")
            o.quick = true, o.seconds = 0.5;
        else if (a == "--runs")
            o.runs = std::max(1, std::stoi(next()));
        else if (a == "--seconds")
            o.seconds = std::stod(next());
        else if (a == "--nginx")
            o.nginx = next();
        else if (a == "--nginx-idle")
            o.nginx_idle = next();
        else if (a == "--ca")
            o.ca = next();
        else if (a == "--wrk")
            o.wrk = next();
        else if (a == "--emulator-only")
            o.emulator_only = true;
        else if (a == "--nginx-only")
            o.nginx_only = true;
        else if (a == "--no-wrk")
            o.no_wrk = true;
        else if (a == "--concurrency")
            o.only_conc = std::stoul(next());
        else if (a == "--no-strand")
            o.no_strand = true;
        else if (a == "--memory")
            memory = true;
        else if (a == "--json")
            o.json_path = next();
        else {
            std::fprintf(stderr,
                         "usage: call_bench [--quick] [--runs N] [--seconds S] [--emulator-only] "
                         "[--nginx URL --nginx-idle URL --ca FILE [--wrk PATH]]\n"
                         "                  [--nginx-only] [--no-wrk] [--concurrency N] [--no-strand] [--json FILE]\n"
                         "       call_bench --memory [--quick] [--runs N] [--json FILE]\n");
            return 2;
        }
    }
    if (memory) {
        // SIGTERM must stay blocked in the emulator child for sigwait: block it
        // before forking (the parent never receives one from us).
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set, nullptr);
        return memory_main(o);
    }
    json::object out{{"bench", "calls"}, {"runs", o.runs}, {"seconds", o.seconds}};
    if (!o.nginx_only) emulator_table(o, out);
    if (!o.nginx.empty() && !o.emulator_only) nginx_table(o, out);
    if (!o.only_conc) stale_table(o, out);
    cbs_bench::write_json(o.json_path, out);
}
