// Clients sharing one rate_limit_group (one per region of an account, as
// `snapshot-fleet --regions` makes them) hold an action's rate together,
// measured in the emulator's request log, with slow answers piling calls up
// in front of the pools. The same load with each client's own limiters goes
// over: the check can fail.
#include "support/request_log.hpp"

#include <cbs/client.hpp>
#include <cbs/emulator/emulator.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <doctest/doctest.h>

#include <deque>
#include <thread>

namespace asio = boost::asio;
namespace emu = cbs::emu;
using namespace std::chrono_literals;

namespace {

struct result {
    std::size_t max_per_second = 0, throttled = 0, ok = 0, planned = 0;
};

asio::awaitable<void> creator(cbs::client& c, std::deque<std::vector<std::string>>& todo, std::size_t& ok) {
    while (!todo.empty()) {
        cbs::create_snapshot_group_request req;
        req.disk_ids = std::move(todo.front());
        todo.pop_front();
        req.snapshot_group_name = "shared-" + req.disk_ids.front();
        auto r = co_await c.async_create_snapshot_group(req, cbs::as_result);
        if (!r.ec) ++ok;
    }
}

/// Two clients, 40 instances each, 16 callers each, against one emulator
/// (one key: one rate window per action).
result run(bool shared) {
    asio::io_context server_io, client_io;
    emu::emulator_params ep;
    ep.fleet.instances = 80;
    ep.fleet.seed = 3;
    emu::fault_rule slow;
    slow.slow = 0.3;
    slow.latency = 0.3;
    ep.faults.rules["CreateSnapshotGroup"] = slow;
    ep.faults.slow_delay = 1500ms;
    ep.faults.latency_max = 300ms;
    emu::emulator server(server_io.get_executor(), ep);
    server.start();
    std::deque<std::vector<std::string>> todo[2];
    result out;
    server.inspect([&](emu::fleet_state& s) {
        std::size_t n = 0;
        for (const auto& id : s.instance_ids()) {
            std::vector<std::string> disks;
            for (const auto& d : s.disks_of(id))
                if (d.snapshot_ability && d.disk_state == "ATTACHED") disks.push_back(d.disk_id);
            if (disks.empty()) continue;
            todo[n++ % 2].push_back(std::move(disks));
            ++out.planned;
        }
    });
    const auto a = server.accounts().front();
    auto group = cbs::make_rate_limit_group(client_io.get_executor());
    std::vector<std::unique_ptr<cbs::client>> clients;
    for (int i = 0; i < 2; ++i) {
        cbs::client_params p;
        p.endpoint = server.endpoint();
        p.pool.ca_file = server.ca_file();
        p.pool.max_size = 8;
        p.thread_safe = false;  // one thread drives both, as a group requires
        p.creds = {a.secret_id, a.secret_key, a.token, "emulator"};
        if (shared) p.shared_limits = group;
        clients.push_back(std::make_unique<cbs::client>(client_io.get_executor(), p));
    }
    for (int i = 0; i < 2; ++i)
        for (int w = 0; w < 16; ++w) asio::co_spawn(client_io, creator(*clients[i], todo[i], out.ok), asio::detached);
    std::thread server_thread([&] {
        auto guard = asio::make_work_guard(server_io);
        server_io.run();
    });
    client_io.run();
    asio::post(server_io, [&] { server.stop(); });
    server_io.stop();
    server_thread.join();
    const auto log = server.request_log();
    out.max_per_second = cbs::test::max_in_window(log, "CreateSnapshotGroup", 1000ms);
    for (const auto& r : log) out.throttled += r.throttled ? 1 : 0;
    return out;
}

}  // namespace

TEST_CASE("a shared rate_limit_group holds two clients together at the action's rate, on the wire") {
    const auto together = run(true);
    MESSAGE("shared: max " << together.max_per_second << " creates in any 1 s, " << together.throttled << " throttled");
    CHECK(together.max_per_second <= 20);
    CHECK(together.throttled == 0);
    CHECK(together.ok == together.planned);

    const auto apart = run(false);
    MESSAGE("own limiters: max " << apart.max_per_second << " creates in any 1 s, " << apart.throttled << " throttled");
    CHECK(apart.max_per_second > 20);  // what the group prevents
}

TEST_CASE("rate_limit_group: bad overrides and overrides beside a group are configuration errors") {
    asio::io_context io;
    CHECK_THROWS_AS(cbs::make_rate_limit_group(io.get_executor(), {{"CreateSnapshotGroup", 0}}), cbs::error);
    CHECK_THROWS_AS(cbs::make_rate_limit_group(io.get_executor(), {{"CreateSnapshotGroup", -1}}), cbs::error);
    cbs::client_params p;
    p.endpoint = "https://localhost:1";
    p.creds = {"AKIDexample", "key", "", "test"};
    p.shared_limits = cbs::make_rate_limit_group(io.get_executor());
    p.rate_overrides["CreateSnapshotGroup"] = 5;
    CHECK_THROWS_AS(cbs::client(io.get_executor(), p), cbs::error);
}
