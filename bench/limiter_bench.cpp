// Limiter benchmark: achieved rate vs configured, the most sends seen in any
// 1-second window, and CPU per acquire with a deep queue of waiters.
//
//   limiter_bench [--quick] [--runs N] [--json FILE]
//
// 1. simulated: the pure core under a saturated backlog for 60 simulated
//    seconds (20/s and 1000/s): exact, no scheduler noise, so one run.
// 2. real time: the async limiter on a steady_clock io_context, a saturated
//    backlog at 20/s for 60 s (5 s with --quick) and 1000/s for 10 s (1 s),
//    with burst 1 (the client's default) and burst 2. The 20/s runs go side
//    by side, each on its own thread (they sleep between grants); the
//    1000/s runs one after another.
// 3. 100,000 waiters queued on one limiter at 1000/s: CPU time (getrusage)
//    to queue them, and per grant while the queue stays deep.
// Each real-time figure is the median of N runs (3), min and max beside it
// (--quick: one run of the 100,000-waiter case).
#include <cbs/detail/async_rate_limiter.hpp>
#include <cbs/rate_limiter_core.hpp>

#include "bench_util.hpp"

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
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono;
using cbs_bench::stat3;
using cbs_bench::summarize;

namespace {

/// One run of one case.
struct row {
    std::string name;
    double configured = 0, achieved = 0;
    std::size_t max_window = 0;
    double cpu_ns_per_acquire = 0;
};

/// Several runs of one case.
struct series {
    std::string name;
    double configured = 0;
    std::vector<double> achieved, max_window, cpu_ns;
    void add(const row& r) {
        name = r.name;
        configured = r.configured;
        achieved.push_back(r.achieved);
        if (r.max_window) max_window.push_back(double(r.max_window));
        if (r.cpu_ns_per_acquire > 0) cpu_ns.push_back(r.cpu_ns_per_acquire);
    }
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

/// CPU time of the calling thread (the 20/s runs share the process).
double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_THREAD, &ru);
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
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                for (;;) {
                    co_await lim.async_acquire();
                    auto t = steady_clock::now() - t0;
                    if (t >= span) co_return;
                    sends.push_back(duration_cast<nanoseconds>(t));
                }
            },
            asio::detached);
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
        asio::co_spawn(
            io,
            [&, l = lim.get()]() -> asio::awaitable<void> {
                if (!co_await l->async_acquire()) ++granted;
            },
            asio::detached);
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
    return {{std::to_string(waiters) + " waiters queued: enqueue", 0, 0, 0, enqueue_cpu * 1e9 / double(queued)},
            {std::to_string(waiters) + " waiters queued: grant at 1000/s", 1000, grants / wall, 0,
             grant_cpu * 1e9 / double(grants)}};
}

/// `runs` real-time runs of one case at once, each on its own thread.
series side_by_side(int runs, double rate, seconds span, int waiters, unsigned burst) {
    std::vector<row> out(static_cast<std::size_t>(runs));
    std::vector<std::thread> threads;
    for (int i = 0; i < runs; ++i)
        threads.emplace_back([&, i] { out[std::size_t(i)] = real_time(rate, span, waiters, burst); });
    for (auto& t : threads) t.join();
    series s;
    for (const auto& r : out) s.add(r);
    return s;
}

series one_after_another(int runs, double rate, seconds span, int waiters, unsigned burst) {
    series s;
    for (int i = 0; i < runs; ++i) s.add(real_time(rate, span, waiters, burst));
    return s;
}

std::string cell(const std::vector<double>& v, const char* f) {
    if (v.empty()) return "-";
    if (v.size() == 1) {
        char b[32];
        std::snprintf(b, sizeof b, f, v.front());
        return b;
    }
    return cbs_bench::fmt3(summarize(v), f);
}

}  // namespace

int main(int argc, char** argv) {
    bool quick = false;
    int runs = 3;
    std::string json_path;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--quick"))
            quick = true;
        else if (!std::strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = std::max(1, std::atoi(argv[++i]));
        else if (!std::strcmp(argv[i], "--json") && i + 1 < argc)
            json_path = argv[++i];
        else {
            std::fprintf(stderr, "usage: limiter_bench [--quick] [--runs N] [--json FILE]\n");
            return 2;
        }
    }
    std::vector<series> rows;
    auto single = [&](const row& r) {
        series s;
        s.add(r);
        rows.push_back(std::move(s));
    };
    single(simulated(20, seconds(60)));
    single(simulated(1000, seconds(60)));
    rows.push_back(side_by_side(runs, 20, seconds(quick ? 5 : 60), 64, 1));  // the client's default burst
    rows.push_back(one_after_another(runs, 1000, seconds(quick ? 1 : 10), 64, 1));
    rows.push_back(one_after_another(runs, 1000, seconds(quick ? 1 : 10), 64, 2));
    {
        series enqueue, grant;
        for (int i = 0; i < (quick ? 1 : runs); ++i) {
            auto d = deep_queue(100'000, seconds(quick ? 1 : 5));
            enqueue.add(d[0]);
            grant.add(d[1]);
        }
        rows.push_back(std::move(enqueue));
        rows.push_back(std::move(grant));
    }

    std::printf("Real-time rows: median of %d runs (min-max)%s; simulated rows are exact (one run).\n\n", runs,
                quick ? ", the 100,000-waiter rows one run" : "");
    std::printf("| case | configured /s | achieved /s | ratio | max sends in any 1 s | CPU per acquire ns |\n");
    std::printf("|---|---|---|---|---|---|\n");
    boost::json::array json_rows;
    for (const auto& r : rows) {
        std::vector<double> ratio;
        if (r.configured > 0)
            for (double a : r.achieved) ratio.push_back(100.0 * a / r.configured);
        char configured[32] = "-";
        if (r.configured > 0) std::snprintf(configured, sizeof configured, "%.0f", r.configured);
        std::printf("| %s | %s | %s | %s | %s | %s |\n", r.name.c_str(), configured,
                    r.configured > 0 ? cell(r.achieved, "%.2f").c_str() : "-", cell(ratio, "%.2f%%").c_str(),
                    cell(r.max_window, "%.0f").c_str(), cell(r.cpu_ns, "%.0f").c_str());
        boost::json::object o{{"case", r.name}, {"configured_per_s", r.configured}};
        if (r.configured > 0) o["achieved_per_s"] = cbs_bench::to_json(r.achieved);
        if (!r.max_window.empty()) o["max_in_any_1s"] = cbs_bench::to_json(r.max_window);
        if (!r.cpu_ns.empty()) o["cpu_ns_per_acquire"] = cbs_bench::to_json(r.cpu_ns);
        json_rows.push_back(std::move(o));
    }
    cbs_bench::write_json(json_path,
                          boost::json::object{{"bench", "limiter"}, {"runs", runs}, {"rows", std::move(json_rows)}});
}
