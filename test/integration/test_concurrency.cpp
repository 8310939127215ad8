// The client shared by coroutines on a multi-threaded io_context (run under
// TSan in CI: .ci/run). Every call must succeed, none may be lost, and the
// per-action limiter must still hold when callers come from many threads.
#include <cbs/emulator/emulator.hpp>
#include <cbs/fleet.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <optional>
#include <thread>

namespace asio = boost::asio;
namespace emu = cbs::emu;
using namespace std::chrono_literals;

namespace {

struct threaded_emulator {
    asio::io_context io;
    std::unique_ptr<emu::emulator> server;
    std::vector<std::thread> threads;
    explicit threaded_emulator(emu::emulator_params p, int n_threads) {
        server = std::make_unique<emu::emulator>(io.get_executor(), std::move(p));
        server->start();
        for (int i = 0; i < n_threads; ++i) threads.emplace_back([this] { io.run(); });
    }
    ~threaded_emulator() {
        asio::post(io, [this] { server->stop(); });
        for (auto& t : threads) t.join();
    }
    cbs::client_params client_params() const {
        auto a = server->accounts().front();
        cbs::client_params p;
        p.endpoint = server->endpoint();
        p.pool.ca_file = server->ca_file();
        p.creds = {a.secret_id, a.secret_key, a.token, "emulator"};
        p.request_timeout = 10s;
        return p;
    }
};

void run_threads(asio::io_context& io, int n) {
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) threads.emplace_back([&] { io.run(); });
    for (auto& t : threads) t.join();
}

}  // namespace

TEST_CASE("concurrency: one client, 200 calls from coroutines on a 4-thread io_context") {
    emu::emulator_params ep;
    ep.fleet.instances = 20;
    ep.rate_limits.enabled = false;
    threaded_emulator server(ep, 2);
    asio::io_context io;
    auto cp = server.client_params();
    cp.rate_limit = false;
    cp.pool.max_size = 8;
    cbs::client c(io.get_executor(), cp);
    std::atomic<int> ok{0}, failed{0};
    for (int i = 0; i < 200; ++i)
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                boost::json::object body{{"Limit", 10}};
                auto r = co_await c.async_call("DescribeDisks", body, cbs::as_result);
                (r.ec ? failed : ok)++;
            },
            [](std::exception_ptr e) {
                if (e) std::rethrow_exception(e);
            });
    run_threads(io, 4);
    CHECK(ok == 200);
    CHECK(failed == 0);
    CHECK(c.stats().connections_opened <= 8);
}

TEST_CASE("concurrency: a fleet run on a 4-thread io_context covers every instance exactly once") {
    emu::emulator_params ep;
    ep.fleet.instances = 30;
    ep.fleet.creating_time = 200ms;
    // The conditions the service shows: listing lag, creates carried out whose
    // answer is lost, slow and late answers.
    ep.fleet.list_lag = 1s;
    auto& create = ep.faults.rules["CreateSnapshotGroup"];
    create.reset_after = 0.10;
    create.slow = 0.10;
    ep.faults.rules["*"].latency = 0.30;
    ep.faults.slow_delay = 1s;
    ep.faults.latency = 20ms;
    ep.faults.latency_max = 200ms;
    threaded_emulator server(ep, 2);
    std::vector<std::string> ids;
    server.server->inspect([&](emu::fleet_state& s) { ids = s.instance_ids(); });
    asio::io_context io;
    cbs::client c(io.get_executor(), server.client_params());
    cbs::fleet_params fp;
    fp.instance_ids = ids;
    fp.run_id = "mt";
    fp.poll_interval = 100ms;
    fp.consistency_window = 2s;  // longer than the 1 s listing lag; the sweep need not wait 15 s
    std::optional<cbs::fleet_report> report;
    asio::co_spawn(io, cbs::async_snapshot_fleet(c, fp), [&](std::exception_ptr e, cbs::fleet_report r) {
        if (e) std::rethrow_exception(e);
        report = std::move(r);
    });
    run_threads(io, 4);
    REQUIRE(report);
    CHECK(report->all_ok);
    std::map<std::string, int> groups;
    server.server->inspect([&](emu::fleet_state& s) {
        for (const auto& g : s.groups()) ++groups[g.instance_id];
    });
    for (const auto& [id, n] : groups) CHECK(n == 1);
    for (const auto& r : report->instances)
        if (r.outcome == cbs::instance_outcome::normal) CHECK(groups[r.instance_id] == 1);
    std::size_t lost = 0;
    for (const auto& rec : server.server->request_log()) lost += rec.fault == "reset_after";
    CHECK(lost > 0);
    for (const auto& rec : server.server->request_log())
        CHECK_FALSE(rec.throttled);  // any RequestLimitExceeded sub-code
}
