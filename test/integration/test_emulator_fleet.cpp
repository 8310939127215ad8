// The emulator's fleet over the wire, driven by the real client: listing lag,
// the odd disks of realistic mode answering from state (not injected faults),
// real wall-clock times. The emulator's steady clock is moved by hand.
#include "support/emulator_harness.hpp"
#include "support/run_to_end.hpp"

#include <cbs/client.hpp>
#include <cbs/emulator/emulator.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>

namespace asio = boost::asio;
namespace json = boost::json;
namespace emu = cbs::emu;
using namespace std::chrono_literals;

namespace {

constexpr const char* test_id = "AKIDEMULATORFLEET0000000000000000000";
constexpr const char* test_key = "emulator-fleet-test-key";

using manual_clock = cbs::test::manual_steady_clock;

emu::emulator_params params(const manual_clock& clk) {
    emu::emulator_params p;
    p.fleet.instances = 40;
    p.fleet.no_snapshot_ability = 0;
    p.accounts = {{test_id, test_key, ""}};
    p.rate_limits.enabled = false;  // not what these tests look at
    p.steady_now = clk.fn();
    return p;
}

cbs::client_params client_for(const emu::emulator& e) {
    cbs::client_params p;
    p.endpoint = e.endpoint();
    p.pool.ca_file = e.ca_file();
    p.creds = {test_id, test_key, "", "explicit"};
    p.request_timeout = 5s;
    p.rate_limit = false;
    // One attempt: the test wants the server's first answer, not a retry's.
    p.retry.throttle_max_attempts = p.retry.transient_max_attempts = p.retry.network_max_attempts =
        p.retry.busy_max_attempts = 1;
    return p;
}

template <class F>
void run(asio::io_context& io, emu::emulator& e, F body) {
    cbs::test::run_to_end(
        io, [&] { e.stop(); }, std::move(body), 30s);
}

json::object name_filter(const std::string& name) {
    return json::object{{"Filters", json::array{json::object{{"Name", "snapshot-group-name"},
                                                             {"Values", json::array{json::value(name)}}}}}};
}

json::object create_body(const std::string& disk, const std::string& name) {
    return json::object{{"DiskIds", json::array{json::value(disk)}}, {"SnapshotGroupName", name}};
}

}  // namespace

TEST_CASE("emulator fleet: listing lag over the wire; the true state by inspection; no delete while CREATING") {
    manual_clock clk;
    asio::io_context io;
    auto p = params(clk);
    p.fleet.list_lag = 8s;
    emu::emulator e(io.get_executor(), p);
    e.start();
    cbs::client c(io.get_executor(), client_for(e));
    std::string disk;
    e.inspect([&](emu::fleet_state& f) { disk = f.disks_of(f.instance_ids()[0])[0].disk_id; });
    run(io, e, [&]() -> asio::awaitable<void> {
        auto g = co_await c.async_call("CreateSnapshotGroup", create_body(disk, "lag-1"), cbs::as_result);
        REQUIRE_MESSAGE(!g.ec, g.diag.to_string(g.ec));
        const std::string id(g.value.at("SnapshotGroupId").as_string());

        auto r = co_await c.async_call("DescribeSnapshotGroups", name_filter("lag-1"), cbs::as_result);
        REQUIRE(!r.ec);
        CHECK(r.value.at("TotalCount").as_int64() == 0);  // created, not yet listed
        std::size_t named = 0;
        bool listed = true;
        e.inspect([&](emu::fleet_state& f) {
            const auto v = f.groups_named("lag-1");
            named = v.size();
            listed = !v.empty() && v[0].listed;
        });
        CHECK(named == 1);
        CHECK_FALSE(listed);

        // Still CREATING: refused, and nothing changes.
        json::object del{{"SnapshotGroupId", id}};
        auto d = co_await c.async_call("DeleteSnapshotGroup", del, cbs::as_result);
        CHECK(d.ec);
        CHECK(d.diag.server_code == "UnsupportedOperation.StateError");
        e.inspect([&](emu::fleet_state& f) { named = f.groups_named("lag-1").size(); });
        CHECK(named == 1);

        clk.advance(8s);
        r = co_await c.async_call("DescribeSnapshotGroups", name_filter("lag-1"), cbs::as_result);
        REQUIRE(!r.ec);
        CHECK(r.value.at("TotalCount").as_int64() == 1);
        d = co_await c.async_call("DeleteSnapshotGroup", del, cbs::as_result);
        CHECK_MESSAGE(!d.ec, d.diag.to_string(d.ec));
    });
    std::size_t left = 1;
    e.inspect([&](emu::fleet_state& f) { left = f.groups().size(); });
    CHECK(left == 0);
}

TEST_CASE("emulator fleet: realistic odd disks answer their documented codes from state, then recover") {
    manual_clock clk;
    asio::io_context io;
    auto p = params(clk);
    p.fleet.realistic = true;
    p.fleet.time_scale = 0.1;
    emu::emulator e(io.get_executor(), p);
    e.start();
    cbs::client c(io.get_executor(), client_for(e));
    run(io, e, [&]() -> asio::awaitable<void> {
        json::object attaching{
            {"Filters", json::array{json::object{{"Name", "disk-state"}, {"Values", json::array{"ATTACHING"}}}}}};
        auto r = co_await c.async_call("DescribeDisks", attaching, cbs::as_result);  // also fixes the origin
        REQUIRE(!r.ec);
        CHECK(r.value.at("TotalCount").as_int64() >= 1);

        // One disk of each kind, from the emulator's state.
        std::string migrating, rollbacking, attach, detach;
        emu::clock::time_point latest{};
        e.inspect([&](emu::fleet_state& f) {
            for (const auto& i : f.instance_ids())
                for (const auto& d : f.disks_of(i)) {
                    if (!d.changes_at) continue;
                    latest = std::max(latest, *d.changes_at);
                    if (d.migrating)
                        migrating = d.disk_id;
                    else if (d.rollbacking)
                        rollbacking = d.disk_id;
                    else if (d.disk_state == "ATTACHING")
                        attach = d.disk_id;
                    else if (d.disk_state == "DETACHING")
                        detach = d.disk_id;
                }
        });
        REQUIRE(!migrating.empty());
        REQUIRE(!rollbacking.empty());
        REQUIRE(!attach.empty());
        REQUIRE(!detach.empty());
        const std::vector<std::pair<std::string, std::string>> expect{{migrating, "ResourceInUse.DiskMigrating"},
                                                                      {rollbacking, "ResourceInUse.DiskRollbacking"},
                                                                      {attach, "ResourceInUse"},
                                                                      {detach, "ResourceInUse"}};
        for (const auto& [disk, code] : expect) {
            auto g = co_await c.async_call("CreateSnapshotGroup", create_body(disk, "odd"), cbs::as_result);
            CHECK(g.ec);
            CHECK_MESSAGE(g.diag.server_code == code, disk);
        }
        // Every change done: the first three can be snapshotted, the detached one is no longer attached.
        clk.advance_to(latest);
        for (const auto& disk : {migrating, rollbacking, attach}) {
            auto g = co_await c.async_call("CreateSnapshotGroup", create_body(disk, "after"), cbs::as_result);
            CHECK_MESSAGE(!g.ec, g.diag.to_string(g.ec));
        }
        auto g = co_await c.async_call("CreateSnapshotGroup", create_body(detach, "after"), cbs::as_result);
        CHECK(g.diag.server_code == "InvalidParameterValue");
    });
    // The refusals came from state, not from fault injection.
    std::size_t refused = 0;
    for (const auto& rec : e.request_log()) {
        CHECK(rec.fault.empty());
        refused += rec.outcome.starts_with("ResourceInUse");
    }
    CHECK(refused == 4);
}

TEST_CASE("emulator fleet: CreateTime is the real time, written in Beijing time") {
    asio::io_context io;
    emu::emulator_params p;
    p.fleet.instances = 5;
    p.accounts = {{test_id, test_key, ""}};
    emu::emulator e(io.get_executor(), p);
    e.start();
    cbs::client c(io.get_executor(), client_for(e));
    std::string disk;
    e.inspect([&](emu::fleet_state& f) { disk = f.disks_of(f.instance_ids()[0])[0].disk_id; });
    const auto unix_now = [] {
        return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    };
    const auto before = unix_now();
    std::string created;
    run(io, e, [&]() -> asio::awaitable<void> {
        auto g = co_await c.async_call("CreateSnapshotGroup", create_body(disk, "clock"), cbs::as_result);
        REQUIRE(!g.ec);
        auto r = co_await c.async_call("DescribeSnapshotGroups", name_filter("clock"), cbs::as_result);
        REQUIRE(!r.ec);
        created = std::string(r.value.at("SnapshotGroupSet").as_array().at(0).at("CreateTime").as_string());
    });
    const auto after = unix_now();
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
    REQUIRE(std::sscanf(created.c_str(), "%d-%d-%d %d:%d:%d", &y, &mo, &d, &h, &mi, &s) == 6);
    using namespace std::chrono;
    const sys_days day{year{y} / month{static_cast<unsigned>(mo)} / static_cast<unsigned>(d)};
    const auto t = duration_cast<seconds>(day.time_since_epoch()).count() + h * 3600 + mi * 60 + s - 8 * 3600;
    CHECK(t >= before - 1);
    CHECK(t <= after + 1);
}
