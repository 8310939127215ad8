// "Never over the rate", measured where it counts: in the emulator's request
// log (arrival times on the server), with half of the creates answered 2.5 s
// late so that the connection pool is the bottleneck and calls pile up in
// front of it. Three pool sizes run side by side, each against its own
// emulator (own rate windows), 300 instances each. Long (about 100 s, set by
// the pool of 4): registered as its own ctest entry, `wire_rate`.
#include "support/request_log.hpp"

#include <cbs/client.hpp>
#include <cbs/emulator/emulator.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <thread>

namespace asio = boost::asio;
namespace emu = cbs::emu;
using namespace std::chrono_literals;

namespace {

struct lane {
    std::size_t pool_size;
    std::unique_ptr<emu::emulator> server;
    std::unique_ptr<cbs::client> client;
    std::map<std::string, std::vector<std::string>> disks;  // instance -> snapshotable disks
    std::size_t ok = 0;
    std::map<std::string, std::size_t> failures;  // code -> count
};

/// A fleet-like load: `workers` coroutines, each taking the next instance.
asio::awaitable<void> worker(lane& l, std::deque<std::string>& todo) {
    while (!todo.empty()) {
        auto instance = todo.front();
        todo.pop_front();
        cbs::create_snapshot_group_request req;
        req.disk_ids = l.disks[instance];
        req.snapshot_group_name = "wire-" + instance;
        auto r = co_await l.client->async_create_snapshot_group(req, cbs::as_result);
        if (r.ec)
            ++l.failures[r.diag.server_code.empty() ? r.ec.message() : r.diag.server_code];
        else
            ++l.ok;
    }
}

}  // namespace

TEST_CASE("wire rate: with slow answers, no sliding second holds more than 20 creates (pools 4, 16, 64)") {
    constexpr std::size_t instances = 300;
    asio::io_context server_io, client_io;
    std::vector<std::unique_ptr<lane>> lanes;
    std::vector<std::deque<std::string>> todo;
    for (std::size_t pool : {std::size_t{4}, std::size_t{16}, std::size_t{64}}) {
        emu::emulator_params ep;
        ep.fleet.instances = instances;
        ep.fleet.seed = 7;
        emu::fault_rule slow;
        slow.slow = 0.5;     // half the creates answered 2.5 s late, after the create ran
        slow.latency = 0.3;  // and some of every kind of answer 50-400 ms late (long-tailed)
        ep.faults.rules["CreateSnapshotGroup"] = slow;
        ep.faults.slow_delay = 2500ms;
        ep.faults.slow_delay_min = 2500ms;
        ep.faults.latency = 50ms;
        ep.faults.latency_max = 400ms;
        ep.faults.seed = 11 + pool;
        auto l = std::make_unique<lane>();
        l->pool_size = pool;
        l->server = std::make_unique<emu::emulator>(server_io.get_executor(), ep);
        l->server->start();
        l->server->inspect([&](emu::fleet_state& s) {
            for (const auto& id : s.instance_ids())
                for (const auto& d : s.disks_of(id))
                    if (d.snapshot_ability && d.disk_state == "ATTACHED") l->disks[id].push_back(d.disk_id);
        });
        cbs::client_params p;
        const auto a = l->server->accounts().front();
        p.endpoint = l->server->endpoint();
        p.pool.ca_file = l->server->ca_file();
        p.pool.max_size = pool;
        p.creds = {a.secret_id, a.secret_key, a.token, "emulator"};
        l->client = std::make_unique<cbs::client>(client_io.get_executor(), p);
        std::deque<std::string> q;
        for (const auto& [id, d] : l->disks)
            if (!d.empty()) q.push_back(id);
        todo.push_back(std::move(q));
        lanes.push_back(std::move(l));
    }
    for (std::size_t i = 0; i < lanes.size(); ++i)
        for (int w = 0; w < 64; ++w) asio::co_spawn(client_io, worker(*lanes[i], todo[i]), asio::detached);

    std::thread server_thread([&] {
        auto guard = asio::make_work_guard(server_io);
        server_io.run();
    });
    client_io.run();
    for (auto& l : lanes) asio::post(server_io, [s = l->server.get()] { s->stop(); });
    server_io.stop();
    server_thread.join();

    for (auto& l : lanes) {
        CAPTURE(l->pool_size);
        const auto log = l->server->request_log();
        const auto creates =
            std::count_if(log.begin(), log.end(), [](const auto& r) { return r.action == "CreateSnapshotGroup"; });
        const auto limited = std::count_if(log.begin(), log.end(), [](const auto& r) {
            return r.throttled;  // any RequestLimitExceeded sub-code
        });
        const auto slow = std::count_if(log.begin(), log.end(), [](const auto& r) { return r.fault == "slow"; });
        MESSAGE("pool " << l->pool_size << ": " << creates << " creates, " << slow << " slow, max "
                        << cbs::test::max_in_window(log, "CreateSnapshotGroup", 1000ms) << " in any 1 s window");
        CHECK(cbs::test::max_in_window(log, "CreateSnapshotGroup", 1000ms) <= 20);
        CHECK(limited == 0);
        CHECK(slow > 100);  // the adversity really happened
        CHECK(l->failures.empty());
        // Every instance covered exactly once, from the emulator's state.
        std::map<std::string, int> groups;
        l->server->inspect([&](emu::fleet_state& s) {
            for (const auto& g : s.groups()) ++groups[g.instance_id];
        });
        std::size_t planned = 0;
        for (const auto& [id, d] : l->disks) {
            if (d.empty()) continue;
            ++planned;
            CHECK_MESSAGE(groups[id] == 1, id);
        }
        CHECK(l->ok == planned);
        CHECK(static_cast<std::size_t>(creates) == planned);
    }
}
