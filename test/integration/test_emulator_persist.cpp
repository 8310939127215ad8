// The emulator's state across restarts (persist_state): every region's
// fleet, groups, rollbacks, instance states and ids come back; groups
// CREATING or ROLLBACKING when saved finish by the wall time elapsed since;
// saves happen while running, atomically; a bad state file is an error
// naming the file, never silently rebuilt.
#include "support/emulator_harness.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

namespace asio = boost::asio;
namespace json = boost::json;
namespace emu = cbs::emu;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using cbs::test::disk_ids_of;
using cbs::test::group_body;
using cbs::test::harness_client;
using cbs::test::harness_params;
using cbs::test::one_filter;
using cbs::test::run_emulator_test;

namespace {

struct temp_dir {
    fs::path path;
    explicit temp_dir(const std::string& name) : path(fs::temp_directory_path() / name) {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string state_file() const { return (path / "state.json").string(); }
};

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

struct region_view {
    std::vector<std::string> instances;
    std::vector<emu::group_view> groups;
    std::size_t snapshots = 0;
};

region_view view_of(emu::emulator& e, const std::string& region) {
    region_view v;
    e.inspect(region, [&](emu::fleet_state& f) {
        v.instances = f.instance_ids();
        v.groups = f.groups();
        v.snapshots = f.snapshot_count();
    });
    return v;
}

std::string state_of(emu::emulator& e, const std::string& region, const std::string& group) {
    std::string s;
    e.inspect(region, [&](emu::fleet_state& f) {
        for (const auto& g : f.groups())
            if (g.group_id == group) s = g.state;
    });
    return s;
}

json::object apply_all(const emu::group_view& g) {
    json::array disks;
    for (std::size_t i = 0; i < g.disk_ids.size(); ++i)
        disks.push_back(json::object{{"SnapshotId", g.snapshot_ids[i]}, {"DiskId", g.disk_ids[i]}});
    return json::object{{"SnapshotGroupId", g.group_id}, {"ApplyDisks", std::move(disks)}, {"AutoStopInstance", true}};
}

}  // namespace

TEST_CASE("emulator persist: every region's state comes back; CREATING and ROLLBACKING finish by elapsed time") {
    temp_dir dir("cbs-emu-persist-roundtrip");
    cbs::test::manual_steady_clock clk;
    cbs::test::manual_wall_clock wall;
    auto p = harness_params(8);
    p.fleet_regions = {"ap-shanghai"};
    p.persist_state = true;
    p.state_dir = dir.path.string();
    p.steady_now = clk.fn();
    p.fleet.system_now = wall.fn();
    p.fleet.rollback_time = 4s;  // creating_time 3 s

    region_view gz_before, sh_before;
    std::string normal_id, creating_id, rolling_id, stopped_ins, rolled_ins, disk_time;
    std::vector<std::string> rolled_disks;
    {
        asio::io_context io;
        emu::emulator a(io.get_executor(), p);
        a.start();
        cbs::client gz(io.get_executor(), harness_client(a));
        cbs::client sh(io.get_executor(), harness_client(a, "ap-shanghai"));
        std::vector<std::string> ins;
        a.inspect([&](emu::fleet_state& f) { ins = f.instance_ids(); });
        std::vector<std::string> d0, d1, sh_disks;
        a.inspect([&](emu::fleet_state& f) {
            d0 = disk_ids_of(f, ins[0]);
            d1 = disk_ids_of(f, ins[1]);
            f.set_instance_state(ins[2], "STOPPED");
        });
        a.inspect("ap-shanghai", [&](emu::fleet_state& f) { sh_disks = disk_ids_of(f, f.instance_ids()[0]); });
        stopped_ins = ins[2];
        rolled_ins = ins[1];
        rolled_disks = d1;
        run_emulator_test(io, a, [&]() -> asio::awaitable<void> {
            auto r = co_await gz.async_call("CreateSnapshotGroup", group_body(d0, "done"), cbs::as_result);
            REQUIRE_MESSAGE(!r.ec, r.diag.to_string(r.ec));
            normal_id = std::string(r.value.at("SnapshotGroupId").as_string());
            r = co_await gz.async_call("CreateSnapshotGroup", group_body(d1, "to-roll"), cbs::as_result);
            REQUIRE_MESSAGE(!r.ec, r.diag.to_string(r.ec));
            rolling_id = std::string(r.value.at("SnapshotGroupId").as_string());
            clk.advance(3s);
            wall.advance(3s);
            emu::group_view rg;
            a.inspect([&](emu::fleet_state& f) { rg = f.groups_named("to-roll").at(0); });
            r = co_await gz.async_call("ApplySnapshotGroup", apply_all(rg), cbs::as_result);
            REQUIRE_MESSAGE(!r.ec, r.diag.to_string(r.ec));
            r = co_await sh.async_call("CreateSnapshotGroup", group_body(sh_disks, "sh-new"), cbs::as_result);
            REQUIRE_MESSAGE(!r.ec, r.diag.to_string(r.ec));
            creating_id = std::string(r.value.at("SnapshotGroupId").as_string());
            auto d = co_await gz.async_call("DescribeDisks", one_filter("disk-id", d0[0]), cbs::as_result);
            REQUIRE(!d.ec);
            disk_time = std::string(d.value.at("DiskSet").as_array().at(0).at("CreateTime").as_string());
        });
        gz_before = view_of(a, "ap-guangzhou");
        sh_before = view_of(a, "ap-shanghai");
        CHECK(state_of(a, "ap-guangzhou", rolling_id) == "ROLLBACKING");
        CHECK(state_of(a, "ap-shanghai", creating_id) == "CREATING");
    }  // stop() and the destructor: the final save
    const auto saved = json::parse(read_file(dir.state_file()));
    CHECK(saved.at("format").as_string() == "cbs-emulator-state");
    CHECK(saved.at("regions").as_object().contains("ap-shanghai"));
    for (const auto& entry : fs::directory_iterator(dir.path))
        CHECK_MESSAGE(entry.path().filename().string().find(".tmp") == std::string::npos, entry.path());

    // One second later (wall clock): still CREATING / ROLLBACKING, done by the time left.
    wall.advance(1s);
    {
        asio::io_context io;
        auto p2 = p;
        cbs::test::manual_steady_clock clk2;  // a new process: another steady clock
        p2.steady_now = clk2.fn();
        emu::emulator b(io.get_executor(), p2);
        const auto gz_after = view_of(b, "ap-guangzhou");
        const auto sh_after = view_of(b, "ap-shanghai");
        CHECK(gz_after.instances == gz_before.instances);
        CHECK(sh_after.instances == sh_before.instances);
        CHECK(gz_after.groups.size() == gz_before.groups.size());
        CHECK(sh_after.snapshots == sh_before.snapshots);
        CHECK(gz_after.snapshots == gz_before.snapshots);
        CHECK(state_of(b, "ap-guangzhou", normal_id) == "NORMAL");
        CHECK(state_of(b, "ap-shanghai", creating_id) == "CREATING");
        CHECK(state_of(b, "ap-guangzhou", rolling_id) == "ROLLBACKING");
        b.inspect([&](emu::fleet_state& f) {
            CHECK(f.instance_state(stopped_ins) == "STOPPED");
            CHECK(f.instance_state(rolled_ins) == "STOPPED");
            CHECK(f.disk(rolled_disks[0])->disk_state == "ROLLBACKING");
        });
        b.start();
        cbs::client gz(io.get_executor(), harness_client(b));
        cbs::client sh(io.get_executor(), harness_client(b, "ap-shanghai"));
        std::vector<std::string> fresh_disks;
        b.inspect([&](emu::fleet_state& f) { fresh_disks = disk_ids_of(f, f.instance_ids()[3]); });
        run_emulator_test(io, b, [&]() -> asio::awaitable<void> {
            clk2.advance(2s);  // 3 s since the create: NORMAL
            auto r = co_await sh.async_call("DescribeSnapshotGroups", one_filter("snapshot-group-id", creating_id),
                                            cbs::as_result);
            REQUIRE(!r.ec);
            CHECK(r.value.at("SnapshotGroupSet").as_array().at(0).at("SnapshotGroupState").as_string() == "NORMAL");
            clk2.advance(1s);  // 4 s since the apply: done
            r = co_await gz.async_call("DescribeSnapshotGroups", one_filter("snapshot-group-id", rolling_id),
                                       cbs::as_result);
            REQUIRE(!r.ec);
            CHECK(r.value.at("SnapshotGroupSet").as_array().at(0).at("SnapshotGroupState").as_string() == "NORMAL");
            // Disk times are the same after a restart.
            auto d = co_await gz.async_call("DescribeDisks", one_filter("disk-id", rolled_disks[0]), cbs::as_result);
            REQUIRE(!d.ec);
            CHECK(d.value.at("DiskSet").as_array().at(0).at("DiskState").as_string() == "ATTACHED");
            auto d0 = co_await gz.async_call("DescribeDisks", one_filter("instance-id", gz_before.instances[0]),
                                             cbs::as_result);
            REQUIRE(!d0.ec);
            CHECK(d0.value.at("DiskSet").as_array().at(0).at("CreateTime").as_string() == disk_time);
            // New ids never repeat an old one.
            auto g = co_await gz.async_call("CreateSnapshotGroup", group_body(fresh_disks, "after"), cbs::as_result);
            REQUIRE_MESSAGE(!g.ec, g.diag.to_string(g.ec));
            const std::string id(g.value.at("SnapshotGroupId").as_string());
            CHECK(id != normal_id);
            CHECK(id != rolling_id);
            CHECK(id != creating_id);
        });
        b.inspect([&](emu::fleet_state& f) {
            CHECK(f.instance_state(rolled_ins) == "STOPPED");  // no AutoStartInstance
            for (const auto& disk : rolled_disks) CHECK(!f.disk(disk)->restored_from.empty());
        });
    }
    // An hour later, everything finished while it was down.
    wall.advance(1h);
    asio::io_context io;
    emu::emulator c(io.get_executor(), p);
    CHECK(state_of(c, "ap-shanghai", creating_id) == "NORMAL");
    CHECK(view_of(c, "ap-guangzhou").groups.size() == gz_before.groups.size() + 1);
}

TEST_CASE("emulator persist: saved while running (debounced), not only at stop") {
    temp_dir dir("cbs-emu-persist-running");
    asio::io_context io;
    auto p = harness_params(5);
    p.persist_state = true;
    p.state_dir = dir.path.string();
    emu::emulator e(io.get_executor(), p);
    e.start();
    cbs::client c(io.get_executor(), harness_client(e));
    std::vector<std::string> disks;
    e.inspect([&](emu::fleet_state& f) { disks = disk_ids_of(f, f.instance_ids()[0]); });
    bool seen = false;
    run_emulator_test(io, e, [&]() -> asio::awaitable<void> {
        auto r = co_await c.async_call("CreateSnapshotGroup", group_body(disks, "live"), cbs::as_result);
        REQUIRE_MESSAGE(!r.ec, r.diag.to_string(r.ec));
        const std::string id(r.value.at("SnapshotGroupId").as_string());
        asio::steady_timer t(co_await asio::this_coro::executor);
        for (int i = 0; i < 60 && !seen; ++i) {  // up to 3 s; expected within 200 ms
            t.expires_after(50ms);
            co_await t.async_wait(asio::use_awaitable);
            seen = read_file(dir.state_file()).find(id) != std::string::npos;
        }
    });
    CHECK(seen);
}

TEST_CASE("emulator persist: a bad state file is an error naming the file, never rebuilt") {
    temp_dir dir("cbs-emu-persist-bad");
    asio::io_context io;
    auto p = harness_params(3);
    p.persist_state = true;
    p.state_dir = dir.path.string();
    auto refused = [&](const std::string& text, const std::string& why) {
        write_file(dir.state_file(), text);
        CHECK_THROWS_WITH_AS(emu::emulator(io.get_executor(), p), doctest::Contains(why.c_str()), std::runtime_error);
        CHECK_THROWS_WITH_AS(emu::emulator(io.get_executor(), p), doctest::Contains(dir.state_file().c_str()),
                             std::runtime_error);
        CHECK(read_file(dir.state_file()) == text);  // left as it was
    };
    refused("{\"format\": \"cbs-emulator-state\", ", "is not valid JSON");
    refused("{\"hello\": 1}", "is not a CBS emulator state file");
    refused(R"({"format":"cbs-emulator-state","version":99,"ids":[],"regions":{}})", "version");

    // A good file, then damaged in one field.
    write_file(dir.state_file(), "");
    fs::remove(dir.state_file());
    {
        emu::emulator e(io.get_executor(), p);
        e.stop();  // never started: saves anyway
    }
    const std::string good = read_file(dir.state_file());
    REQUIRE(!good.empty());
    CHECK_NOTHROW(emu::emulator(io.get_executor(), p));
    auto doc = json::parse(good).as_object();
    doc["regions"].as_object()["ap-guangzhou"].as_object()["disks"].as_array()[0].as_object()["instance_id"] =
        "ins-nothere";
    refused(json::serialize(doc), "disks[0].instance_id names an unknown instance");
    doc = json::parse(good).as_object();
    doc["regions"].as_object()["xx-moon-1"] = doc["regions"].as_object()["ap-guangzhou"];
    refused(json::serialize(doc), "xx-moon-1");

    auto no_dir = harness_params(3);
    no_dir.persist_state = true;
    CHECK_THROWS_WITH_AS(emu::emulator(io.get_executor(), no_dir), doctest::Contains("state_dir"),
                         std::invalid_argument);
}
