// What a limiter token costs: the local limiter against the Redis-shared one.
//
//   shared_limiter_bench --redis redis://127.0.0.1:PORT [--acquires N] [--runs R]
//
// The rate is set far above what either can grant (1,000,000/s), so the
// figure is the cost of the machinery, not the pacing: for the local limiter
// a queue and a timer check; for the shared one an EVAL of the GCRA script on
// the Redis server (one round trip, loopback). Measured with one caller
// (acquires in a row: the latency of one token) and with 64 callers (the
// head asks for one at a time, so this is the throughput of one action's
// queue). CPU is this process's (getrusage), so the Redis server's own work is
// not in it. Start a Redis first, e.g.
//   redis-server --port 6390 --save "" --appendonly no &
#include "../src/net/rate_limit_group.hpp"
#include "bench_util.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstring>
#include <iostream>

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

namespace {

double cpu_seconds() {
    rusage r{};
    ::getrusage(RUSAGE_SELF, &r);
    return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
           static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

struct figures {
    double us_per_acquire = 0;      // wall time / acquires
    double cpu_us_per_acquire = 0;  // this process's CPU / acquires
    double fallback_grants = 0;     // must stay 0: the figure is Redis's
};

figures measure(const std::string& url, int acquires, int callers) {
    asio::io_context io;
    cbs::shared_limiter_params sp;
    sp.url = url;
    auto group = cbs::make_rate_limit_group(io.get_executor(), {{"Bench", 1e6}}, sp);
    auto& lim = group->for_action("Bench");
    int left = acquires;
    int done = 0;
    int failures = 0;
    // Taken at the last grant: io.run() itself returns only once the idle
    // Redis link has closed (idle_close later).
    steady::time_point t_end;
    double c_end = 0;
    // Warm up: the first link (and the script's first compilation).
    asio::co_spawn(io, lim.async_acquire(steady::time_point::max()), asio::detached);
    io.run();
    io.restart();
    const auto t0 = steady::now();
    const double c0 = cpu_seconds();
    for (int c = 0; c < callers; ++c)
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                while (left > 0) {
                    --left;
                    if (co_await lim.async_acquire(steady::time_point::max())) ++failures;
                    if (++done == acquires) {
                        t_end = steady::now();
                        c_end = cpu_seconds();
                    }
                }
            },
            asio::detached);
    io.run();
    const double wall = std::chrono::duration<double>(t_end - t0).count();
    const double cpu = c_end - c0;
    if (failures) std::cerr << "shared_limiter_bench: " << failures << " acquires failed\n";
    cbs::client_stats st;
    group->add_stats(st);
    return {wall * 1e6 / acquires, cpu * 1e6 / acquires, static_cast<double>(st.limiter_fallback_grants)};
}

}  // namespace

int main(int argc, char** argv) {
    std::string redis;
    int acquires = 20000;
    int runs = 3;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--redis") && i + 1 < argc)
            redis = argv[++i];
        else if (!std::strcmp(argv[i], "--acquires") && i + 1 < argc)
            acquires = std::max(1, std::atoi(argv[++i]));
        else if (!std::strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = std::max(1, std::atoi(argv[++i]));
        else {
            std::fprintf(stderr, "usage: shared_limiter_bench --redis redis://HOST:PORT [--acquires N] [--runs R]\n");
            return 2;
        }
    }
    if (redis.empty()) {
        std::fprintf(stderr, "shared_limiter_bench: --redis redis://HOST:PORT is needed (a Redis to measure)\n");
        return 2;
    }
    std::printf("| limiter | callers | us per acquire (wall) | CPU us per acquire (client) |\n");
    std::printf("|---|---|---|---|\n");
    for (const auto& [name, url] : {std::pair<const char*, std::string>{"local", ""}, {"redis", redis}}) {
        for (int callers : {1, 64}) {
            std::vector<double> wall, cpu;
            double fallbacks = 0;
            for (int r = 0; r < runs; ++r) {
                const auto f = measure(url, acquires, callers);
                wall.push_back(f.us_per_acquire);
                cpu.push_back(f.cpu_us_per_acquire);
                fallbacks += f.fallback_grants;
            }
            std::printf("| %s | %d | %s | %s |\n", name, callers,
                        cbs_bench::fmt3(cbs_bench::summarize(wall), "%.2f").c_str(),
                        cbs_bench::fmt3(cbs_bench::summarize(cpu), "%.2f").c_str());
            if (fallbacks > 0)
                std::printf("(%s: %.0f grants came from the fallback: Redis was not reached)\n", name, fallbacks);
        }
    }
}
