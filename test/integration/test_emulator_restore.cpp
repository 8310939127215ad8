// ApplySnapshotGroup (rollback) in the emulator, over the wire: the checks in
// their documented codes, the instance state, the ROLLBACKING timeline of the
// group and its disks on the steady clock, what is refused meanwhile, and the
// snapshot quota.
#include "support/emulator_harness.hpp"

#include <boost/asio/use_awaitable.hpp>

#include <doctest/doctest.h>

namespace asio = boost::asio;
namespace json = boost::json;
namespace emu = cbs::emu;
using namespace std::chrono_literals;
using cbs::test::disk_ids_of;
using cbs::test::group_body;
using cbs::test::harness_client;
using cbs::test::harness_params;
using cbs::test::one_filter;
using pair_list = std::vector<std::pair<std::string, std::string>>;
using cbs::test::run_emulator_test;

namespace {

/// An instance with at least `n` disks (fleet order).
std::string instance_with(emu::fleet_state& f, std::size_t n) {
    for (const auto& i : f.instance_ids())
        if (f.disks_of(i).size() >= n) return i;
    FAIL("no instance with " << n << " disks");
    return {};
}

json::object apply_body(const std::string& group, const std::vector<std::pair<std::string, std::string>>& pairs,
                        std::optional<bool> auto_stop = std::nullopt, std::optional<bool> auto_start = std::nullopt) {
    json::array disks;
    for (const auto& [snap, disk] : pairs) disks.push_back(json::object{{"SnapshotId", snap}, {"DiskId", disk}});
    json::object o{{"SnapshotGroupId", group}, {"ApplyDisks", std::move(disks)}};
    if (auto_stop) o["AutoStopInstance"] = *auto_stop;
    if (auto_start) o["AutoStartInstance"] = *auto_start;
    return o;
}

struct made_group {
    std::string id;
    std::vector<std::pair<std::string, std::string>> pairs;  // (snapshot, disk) in DiskIds order
};

made_group group_of(emu::fleet_state& f, const std::string& name) {
    const auto v = f.groups_named(name);
    REQUIRE(v.size() == 1);
    made_group g{v[0].group_id, {}};
    for (std::size_t i = 0; i < v[0].disk_ids.size(); ++i) g.pairs.emplace_back(v[0].snapshot_ids[i], v[0].disk_ids[i]);
    return g;
}

std::string group_state(const json::value& describe) {
    return std::string(describe.at("SnapshotGroupSet").as_array().at(0).at("SnapshotGroupState").as_string());
}

}  // namespace

TEST_CASE("emulator restore: ApplySnapshotGroup refuses in its documented codes and rolls back on the steady clock") {
    cbs::test::manual_steady_clock clk;
    asio::io_context io;
    auto p = harness_params(12);
    p.steady_now = clk.fn();
    p.fleet.rollback_time = 4s;
    emu::emulator e(io.get_executor(), p);
    e.start();
    cbs::client c(io.get_executor(), harness_client(e));
    std::string ins, other;
    std::vector<std::string> disks, other_disks;
    e.inspect([&](emu::fleet_state& f) {
        ins = instance_with(f, 2);
        disks = disk_ids_of(f, ins);
        for (const auto& i : f.instance_ids())
            if (i != ins) {
                other = i;
                other_disks = disk_ids_of(f, i);
                break;
            }
        CHECK(f.instance_state(ins) == "RUNNING");
        CHECK(f.instance_state("ins-zzzzzzzz").empty());
        CHECK_THROWS_AS(f.set_instance_state(ins, "PAUSED"), std::invalid_argument);
        CHECK_THROWS_AS(f.set_instance_state("ins-zzzzzzzz", "STOPPED"), std::invalid_argument);
    });

    run_emulator_test(io, e, [&]() -> asio::awaitable<void> {
        auto r = co_await c.async_call("CreateSnapshotGroup", group_body(disks, "before"), cbs::as_result);
        REQUIRE_MESSAGE(!r.ec, r.diag.to_string(r.ec));
        const std::vector<std::string> other_first{other_disks[0]};
        r = co_await c.async_call("CreateSnapshotGroup", group_body(other_first, "other"), cbs::as_result);
        REQUIRE_MESSAGE(!r.ec, r.diag.to_string(r.ec));
        made_group g, og;
        e.inspect([&](emu::fleet_state& f) {
            g = group_of(f, "before");
            og = group_of(f, "other");
        });
        auto expect = [&](const json::object& body, const std::string& code,
                          const std::string& in_message = "") -> asio::awaitable<void> {
            auto a = co_await c.async_call("ApplySnapshotGroup", body, cbs::as_result);
            CHECK_MESSAGE(a.diag.server_code == code, a.diag.server_message);
            if (!in_message.empty())
                CHECK_MESSAGE(a.diag.server_message.find(in_message) != std::string::npos, a.diag.server_message);
        };
        // Still CREATING.
        co_await expect(apply_body(g.id, g.pairs, true), "UnsupportedOperation.StateError", "CREATING");
        clk.advance(3s);
        // Parameters.
        const json::object no_group{{"ApplyDisks", json::array{}}};
        co_await expect(no_group, "MissingParameter", "SnapshotGroupId");
        const pair_list none, crossed{{g.pairs[0].first, g.pairs[1].second}}, foreign{og.pairs[0]},
            twice{g.pairs[0], g.pairs[0]};
        co_await expect(apply_body(g.id, none), "MissingParameter", "ApplyDisks");
        const json::object no_disk{{"SnapshotGroupId", g.id},
                                   {"ApplyDisks", json::array{json::object{{"SnapshotId", g.pairs[0].first}}}}};
        co_await expect(no_disk, "MissingParameter", "ApplyDisks.0.DiskId");
        co_await expect(apply_body("csnap-zzzzzzzz", g.pairs), "InvalidParameter", "csnap-zzzzzzzz");
        co_await expect(apply_body(g.id, crossed), "InvalidParameter", g.pairs[0].first);
        co_await expect(apply_body(g.id, foreign), "InvalidParameter", "ApplyDisks.0");
        co_await expect(apply_body(g.id, twice), "InvalidParameter", "more than once");
        // The instance is RUNNING and AutoStopInstance was not set.
        co_await expect(apply_body(g.id, g.pairs), "UnsupportedOperation.StateError",
                        "The instance `" + ins + "` is RUNNING; it must be stopped, or set AutoStopInstance.");
        co_await expect(apply_body(g.id, g.pairs, false), "UnsupportedOperation.StateError", "RUNNING");

        // Accepted: the instance stops, the group and the disks roll back.
        auto a = co_await c.async_call("ApplySnapshotGroup", apply_body(g.id, g.pairs, true, true), cbs::as_result);
        REQUIRE_MESSAGE(!a.ec, a.diag.to_string(a.ec));
        e.inspect([&](emu::fleet_state& f) { CHECK(f.instance_state(ins) == "STOPPED"); });
        auto d = co_await c.async_call("DescribeSnapshotGroups", one_filter("snapshot-group-id", g.id), cbs::as_result);
        REQUIRE(!d.ec);
        CHECK(group_state(d.value) == "ROLLBACKING");
        d = co_await c.async_call("DescribeSnapshotGroups", one_filter("snapshot-group-state", "ROLLBACKING"),
                                  cbs::as_result);
        REQUIRE(!d.ec);
        CHECK(d.value.at("TotalCount").as_int64() == 1);
        clk.advance(2s);
        auto disks_now = co_await c.async_call("DescribeDisks", one_filter("instance-id", ins), cbs::as_result);
        REQUIRE(!disks_now.ec);
        for (const auto& dk : disks_now.value.at("DiskSet").as_array()) {
            CHECK(dk.at("DiskState").as_string() == "ROLLBACKING");
            CHECK(dk.at("Rollbacking").as_bool());
            CHECK(dk.at("RollbackPercent").as_int64() == 50);
        }
        // Meanwhile: no new group on those disks, no delete of the group, no second apply.
        r = co_await c.async_call("CreateSnapshotGroup", group_body(disks, "during"), cbs::as_result);
        CHECK(r.diag.server_code == "ResourceInUse.DiskRollbacking");
        r = co_await c.async_call("DeleteSnapshotGroup", cbs::test::group_id_body(g.id), cbs::as_result);
        CHECK(r.diag.server_code == "UnsupportedOperation.StateError");
        co_await expect(apply_body(g.id, g.pairs, true), "UnsupportedOperation.StateError", "ROLLBACKING");
        auto snaps =
            co_await c.async_call("DescribeSnapshots", one_filter("snapshot-id", g.pairs[0].first), cbs::as_result);
        REQUIRE(!snaps.ec);
        CHECK(snaps.value.at("SnapshotSet").as_array().at(0).at("SnapshotState").as_string() == "ROLLBACKING");

        clk.advance(2s);  // rollback_time reached
        d = co_await c.async_call("DescribeSnapshotGroups", one_filter("snapshot-group-id", g.id), cbs::as_result);
        REQUIRE(!d.ec);
        CHECK(group_state(d.value) == "NORMAL");
        disks_now = co_await c.async_call("DescribeDisks", one_filter("instance-id", ins), cbs::as_result);
        REQUIRE(!disks_now.ec);
        for (const auto& dk : disks_now.value.at("DiskSet").as_array()) {
            CHECK(dk.at("DiskState").as_string() == "ATTACHED");
            CHECK_FALSE(dk.at("Rollbacking").as_bool());
            CHECK(dk.at("RollbackPercent").as_int64() == 100);
        }
        e.inspect([&](emu::fleet_state& f) {
            CHECK(f.instance_state(ins) == "RUNNING");  // AutoStartInstance
            for (const auto& [snap, disk] : g.pairs) {
                CHECK(f.disk(disk)->restored_from == snap);
                CHECK(f.disk(disk)->rollback_percent == 100);
            }
        });
        r = co_await c.async_call("DeleteSnapshotGroup", cbs::test::group_id_body(g.id), cbs::as_result);
        CHECK_MESSAGE(!r.ec, r.diag.to_string(r.ec));

        // A stopped instance needs no AutoStopInstance, and without AutoStartInstance stays stopped.
        e.inspect([&](emu::fleet_state& f) { f.set_instance_state(other, "STOPPED"); });
        const pair_list other_pair{og.pairs[0]};
        a = co_await c.async_call("ApplySnapshotGroup", apply_body(og.id, other_pair), cbs::as_result);
        REQUIRE_MESSAGE(!a.ec, a.diag.to_string(a.ec));
        clk.advance(4s);
        d = co_await c.async_call("DescribeSnapshotGroups", one_filter("snapshot-group-id", og.id), cbs::as_result);
        REQUIRE(!d.ec);
        CHECK(group_state(d.value) == "NORMAL");
        e.inspect([&](emu::fleet_state& f) {
            CHECK(f.instance_state(other) == "STOPPED");
            CHECK(f.disk(og.pairs[0].second)->restored_from == og.pairs[0].first);
        });
    });
}

TEST_CASE("emulator restore: disks of different instances; unattached disks; parameter types") {
    cbs::test::manual_steady_clock clk;
    asio::io_context io;
    auto p = harness_params(12);
    p.steady_now = clk.fn();
    p.fleet.rollback_time = 0ms;  // done at once
    emu::emulator e(io.get_executor(), p);
    std::string ins, other;
    made_group g;
    e.inspect([&](emu::fleet_state& f) {
        ins = instance_with(f, 2);
        other = f.instance_ids().front() == ins ? f.instance_ids().back() : f.instance_ids().front();
        auto r = f.handle("CreateSnapshotGroup", group_body(disk_ids_of(f, ins), "two"), clk.now());
        REQUIRE(!r.error);
        g = group_of(f, "two");
        // The second disk has since been moved to another instance.
        f.set_disk_instance(g.pairs[1].second, other);
        CHECK(f.disk(g.pairs[1].second)->instance_id == other);
        CHECK_THROWS_AS(f.set_disk_instance(g.pairs[1].second, "ins-zzzzzzzz"), std::invalid_argument);
        CHECK(emu::documented_rate_limit("ApplySnapshotGroup") == 20);
    });
    clk.advance(4s);
    e.start();
    cbs::client c(io.get_executor(), harness_client(e));
    run_emulator_test(io, e, [&]() -> asio::awaitable<void> {
        auto a = co_await c.async_call("ApplySnapshotGroup", apply_body(g.id, g.pairs, true), cbs::as_result);
        CHECK(a.diag.server_code == "UnsupportedOperation.SnapshotGroupDiskAttachMultiInstance");
        auto bad = apply_body(g.id, g.pairs, true);
        bad["AutoStopInstance"] = "yes";
        a = co_await c.async_call("ApplySnapshotGroup", bad, cbs::as_result);
        CHECK(a.diag.server_code == "InvalidParameter");
        bad = apply_body(g.id, g.pairs, true);
        bad["Force"] = true;
        a = co_await c.async_call("ApplySnapshotGroup", bad, cbs::as_result);
        CHECK(a.diag.server_code == "UnknownParameter");
        // Detached since: an unattached disk rolls back with no instance to stop.
        e.inspect([&](emu::fleet_state& f) { f.set_disk_instance(g.pairs[1].second, ""); });
        const pair_list second{g.pairs[1]};
        a = co_await c.async_call("ApplySnapshotGroup", apply_body(g.id, second), cbs::as_result);
        REQUIRE_MESSAGE(!a.ec, a.diag.to_string(a.ec));
        e.inspect([&](emu::fleet_state& f) {
            const auto d = f.disk(g.pairs[1].second);
            CHECK(d->disk_state == "UNATTACHED");
            CHECK(d->restored_from == g.pairs[1].first);
            CHECK(f.instance_state(ins) == "RUNNING");
        });
    });
}

TEST_CASE("emulator restore: the snapshot quota per region; deleting groups frees it") {
    cbs::test::manual_steady_clock clk;
    asio::io_context io;
    auto p = harness_params(12);
    p.steady_now = clk.fn();
    p.fleet.snapshot_quota = 3;
    p.fleet_regions = {"ap-shanghai"};
    emu::emulator e(io.get_executor(), p);
    e.start();
    cbs::client c(io.get_executor(), harness_client(e));
    cbs::client sh(io.get_executor(), harness_client(e, "ap-shanghai"));
    std::vector<std::string> two, one, sh_disks;
    e.inspect([&](emu::fleet_state& f) {
        const auto ins = instance_with(f, 2);
        two = disk_ids_of(f, ins);
        two.resize(2);
        for (const auto& i : f.instance_ids())
            if (i != ins) {
                one = {disk_ids_of(f, i)[0]};
                break;
            }
    });
    e.inspect("ap-shanghai", [&](emu::fleet_state& f) { sh_disks = {disk_ids_of(f, f.instance_ids()[0])[0]}; });
    run_emulator_test(io, e, [&]() -> asio::awaitable<void> {
        auto r = co_await c.async_call("CreateSnapshotGroup", group_body(two, "q1"), cbs::as_result);
        REQUIRE_MESSAGE(!r.ec, r.diag.to_string(r.ec));
        const std::string first(r.value.at("SnapshotGroupId").as_string());
        clk.advance(4s);
        r = co_await c.async_call("CreateSnapshotGroup", group_body(two, "q2"), cbs::as_result);
        CHECK(r.diag.server_code == "InsufficientSnapshotQuota");
        // The message names the quota, the snapshots held and the number asked.
        CHECK_MESSAGE(
            r.diag.server_message.find("is 3 snapshots: 2 are held and 2 more were asked for") != std::string::npos,
            r.diag.server_message);
        // Another region has its own quota.
        r = co_await sh.async_call("CreateSnapshotGroup", group_body(sh_disks, "sh"), cbs::as_result);
        CHECK_MESSAGE(!r.ec, r.diag.to_string(r.ec));
        r = co_await c.async_call("CreateSnapshotGroup", group_body(one, "q3"), cbs::as_result);  // 3 of 3
        CHECK_MESSAGE(!r.ec, r.diag.to_string(r.ec));
        r = co_await c.async_call("DeleteSnapshotGroup", cbs::test::group_id_body(first), cbs::as_result);
        CHECK_MESSAGE(!r.ec, r.diag.to_string(r.ec));
        r = co_await c.async_call("CreateSnapshotGroup", group_body(two, "q4"), cbs::as_result);
        CHECK_MESSAGE(!r.ec, r.diag.to_string(r.ec));
    });
    std::size_t held = 0;
    e.inspect([&](emu::fleet_state& f) { held = f.snapshot_count(); });
    CHECK(held == 3);
}
