// Limiter benchmark: achieved rate vs configured, the most sends seen in any
// 1-second window, and CPU per acquire with a deep queue of waiters.
//
//   limiter_bench [--quick] [--json]
//
// 1. simulated: the pure core under a saturated backlog for 60 simulated
//    seconds (20/s and 1000/s): exact, no scheduler noise.
// 2. real time: the async limiter on a steady_clock io_context, a saturated
//    backlog at 20/s for 60 s (10 s with --quick) and 1000/s for 10 s (3 s),
//    with burst 1 and with the client's default burst 2.
// 3. 100,000 waiters queued on one limiter at 1000/s: CPU time (getrusage)
//    to queue them, and per grant while the queue stays deep.
#include <cbs/detail/async_rate_limiter.hpp>
#include <cbs/rate_limiter_core.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono;

namespace {

struct row {
    std::string name;
    double configured = 0, achieved = 0;
    std::size_t max_window = 0;
    double cpu_ns_per_acquire = 0;
};

/// Largest number of timestamps in any half-open window [t, t + 1 s).
std::size_t max_in_window(const std::vector<nanoseconds>& sends) {
    std::size_t best = 0, lo = 0;
    for (std::size_t hi = 0; hi < sends.size(); ++hi) {
        while (sends[hi] - sends[lo] >= seconds(1)) ++lo;
        best = std::max(best, hi - lo + 1);
    }
    return best;
}

row simulated(double rate, seconds span) {
    cbs::limiter_params lp;
    lp.rate_per_second = rate;
    cbs::rate_limiter_core core(lp);
    std::vector<nanoseconds> sends;
    cbs::rate_limiter_core::time_point t0{hours(1)}, now = t0;
    // Saturated backlog: every caller reserves as soon as the previous one sent.
    while (now - t0 < span) {
        auto r = core.reserve(now);
        now = std::max(now, r.send_at());
        if (now - t0 >= span) break;
        sends.push_back(now - t0);
    }
    return {"simulated core " + std::to_string(int(rate)) + "/s, " + std::to_string(span.count()) + " s", rate,
            sends.size() / double(span.count()), max_in_window(sends), 0};
}

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/// `waiters` coroutines acquire in a loop from one async limiter until `span`
/// has passed; returns the send times.
row real_time(double rate, seconds span, int waiters, unsigned burst) {
    asio::io_context io;
    cbs::limiter_params lp;
    lp.rate_per_second = rate;
    lp.burst = burst;
    cbs::detail::async_rate_limiter<steady_clock> lim(io.get_executor(), lp);
    std::vector<nanoseconds> sends;
    const auto t0 = steady_clock::now();
    const double cpu0 = cpu_seconds();
    for (int i = 0; i < waiters; ++i)
        asio::co_spawn(io, [&]() -> asio::awaitable<void> {
            for (;;) {
                co_await lim.async_acquire();
                auto t = steady_clock::now() - t0;
                if (t >= span) co_return;
                sends.push_back(duration_cast<nanoseconds>(t));
            }
        }, asio::detached);
    io.run();
    const double cpu = cpu_seconds() - cpu0;
    std::sort(sends.begin(), sends.end());
    return {"async " + std::to_string(int(rate)) + "/s burst " + std::to_string(burst) + ", " +
                std::to_string(span.count()) + " s, real time",
            rate, sends.size() / double(span.count()), max_in_window(sends), cpu * 1e9 / double(sends.size())};
}

/// `waiters` coroutines queued at once on one limiter at 1000/s; measures
/// the CPU of queueing them all, then the CPU per grant while the queue stays
/// deep (the queue operations must not depend on its depth).
std::vector<row> deep_queue(int waiters, seconds span) {
    asio::io_context io;
    cbs::limiter_params lp;
    lp.rate_per_second = 1000;
    auto lim = std::make_unique<cbs::detail::async_rate_limiter<steady_clock>>(io.get_executor(), lp);
    std::size_t granted = 0;
    double cpu0 = cpu_seconds();
    for (int i = 0; i < waiters; ++i)
        asio::co_spawn(io, [&, l = lim.get()]() -> asio::awaitable<void> {
            if (!co_await l->async_acquire()) ++granted;
        }, asio::detached);
    io.poll();  // every waiter is now queued
    const double enqueue_cpu = cpu_seconds() - cpu0;
    const std::size_t queued = lim->waiting();
    cpu0 = cpu_seconds();
    const auto t0 = steady_clock::now();
    io.run_for(span);
    const double grant_cpu = cpu_seconds() - cpu0;
    const double wall = duration<double>(steady_clock::now() - t0).count();
    const std::size_t grants = granted;
    lim.reset();  // cancels the rest
    io.restart();
    io.run();
    return {{std::to_string(queued) + " waiters queued: enqueue", 0, 0, 0, enqueue_cpu * 1e9 / double(queued)},
            {std::to_string(queued) + " waiters queued: grant at 1000/s", 1000, grants / wall, 0,
             grant_cpu * 1e9 / double(grants)}};
}

}  // namespace

int main(int argc, char** argv) {
    bool quick = false, json = false;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--quick")) quick = true;
        else if (!std::strcmp(argv[i], "--json")) json = true;
        else {
            std::fprintf(stderr, "usage: limiter_bench [--quick] [--json]\n");
            return 2;
        }
    }
    std::vector<row> rows;
    rows.push_back(simulated(20, seconds(60)));
    rows.push_back(simulated(1000, seconds(60)));
    rows.push_back(real_time(20, seconds(quick ? 10 : 60), 64, 1));  // the client's default burst
    rows.push_back(real_time(1000, seconds(quick ? 3 : 10), 64, 1));
    rows.push_back(real_time(1000, seconds(quick ? 3 : 10), 64, 2));
    for (auto& r : deep_queue(100'000, seconds(quick ? 2 : 5))) rows.push_back(r);
    if (json) {
        std::printf("[");
        for (std::size_t i = 0; i < rows.size(); ++i)
            std::printf("%s{\"name\":\"%s\",\"configured\":%.1f,\"achieved\":%.2f,\"max_in_1s\":%zu,\"cpu_ns_per_acquire\":%.0f}",
                        i ? "," : "", rows[i].name.c_str(), rows[i].configured, rows[i].achieved, rows[i].max_window,
                        rows[i].cpu_ns_per_acquire);
        std::printf("]\n");
        return 0;
    }
    std::printf("| %-44s | %10s | %10s | %8s | %9s | %12s |\n", "case", "configured", "achieved", "ratio", "max in 1s",
                "CPU/acquire");
    std::printf("|%s|%s|%s|%s|%s|%s|\n", std::string(46, '-').c_str(), std::string(12, '-').c_str(),
                std::string(12, '-').c_str(), std::string(10, '-').c_str(), std::string(11, '-').c_str(),
                std::string(14, '-').c_str());
    for (const auto& r : rows) {
        char cpu[32] = "-", win[32] = "-";
        if (r.cpu_ns_per_acquire > 0) std::snprintf(cpu, sizeof cpu, "%.0f ns", r.cpu_ns_per_acquire);
        if (r.max_window > 0) std::snprintf(win, sizeof win, "%zu", r.max_window);
        char ratio[32] = "-";
        if (r.configured > 0) std::snprintf(ratio, sizeof ratio, "%.2f%%", 100.0 * r.achieved / r.configured);
        std::printf("| %-44s | %10.0f | %10.2f | %8s | %9s | %12s |\n", r.name.c_str(), r.configured, r.achieved,
                    ratio, win, cpu);
    }
}
