// fleet_state::save / load: a loaded fleet answers exactly as the original
// would at the same wall time (realistic mode, uneven creation, failures,
// rollbacks under way), and goes on drawing the same ids and timelines.
// All on injected clocks: no sleeps.
#include <cbs/emulator/fleet_state.hpp>

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace json = boost::json;
using cbs::emu::fleet_params;
using cbs::emu::fleet_state;
using namespace std::chrono_literals;

namespace {

using time_point = cbs::emu::clock::time_point;
const time_point t0 = time_point{} + 1000h;
const auto wall0 = std::chrono::system_clock::time_point{std::chrono::seconds{1'780'000'000}};

json::object ok(fleet_state& fs, std::string_view action, const json::object& body, time_point now) {
    auto r = fs.handle(action, body, now);
    REQUIRE_MESSAGE(!r.error, (r.error ? r.error->code + ": " + r.error->message : std::string()));
    return r.response;
}

json::object all_pages() {
    return json::object{{"Limit", 100}};
}

/// Every describe answer, all pages.
std::string everything(fleet_state& fs, time_point now) {
    std::string out;
    for (const char* action : {"DescribeDisks", "DescribeSnapshotGroups", "DescribeSnapshots"})
        for (std::int64_t offset = 0;; offset += 100) {
            json::object body = all_pages();
            body["Offset"] = offset;
            const auto r = ok(fs, action, body, now);
            out += json::serialize(r) + "\n";
            if (offset + 100 >= r.at("TotalCount").as_int64()) break;
        }
    return out;
}

}  // namespace

TEST_CASE("fleet_state save/load: the loaded fleet answers as the original at the same wall time") {
    fleet_params p;
    p.instances = 40;
    p.realistic = true;  // odd disks changing over time, uneven creation
    p.failed_fraction = 0.2;
    p.time_scale = 0.2;
    p.rollback_time = 6s;
    p.system_now = [] { return wall0; };
    fleet_state a(p);
    // Groups at whole milliseconds (the file keeps milliseconds), some finished, some not.
    std::vector<std::string> made;
    const auto ins = a.instance_ids();
    for (std::size_t i = 0; i < ins.size(); ++i) {
        const auto now = t0 + std::chrono::milliseconds(250 * i);
        json::array disks;
        for (const auto& d : a.disks_of(ins[i]))
            if (d.disk_state == "ATTACHED" && !d.migrating && !d.rollbacking && d.snapshot_ability)
                disks.emplace_back(d.disk_id);
        if (disks.empty()) continue;
        auto r = a.handle("CreateSnapshotGroup", json::object{{"DiskIds", disks}, {"SnapshotGroupName", ins[i]}}, now);
        if (!r.error) made.emplace_back(r.response.at("SnapshotGroupId").as_string());
    }
    REQUIRE(made.size() > 10);
    // A rollback under way on the first group that is NORMAL by then.
    const auto t_apply = t0 + 20s;
    (void)ok(a, "DescribeSnapshotGroups", json::object{}, t_apply);  // the views are now at t_apply
    bool applied = false;
    for (const auto& g : a.groups()) {
        if (g.state != "NORMAL") continue;
        json::array pairs;
        for (std::size_t i = 0; i < g.disk_ids.size(); ++i)
            pairs.push_back(json::object{{"SnapshotId", g.snapshot_ids[i]}, {"DiskId", g.disk_ids[i]}});
        const json::object body{{"SnapshotGroupId", g.group_id}, {"ApplyDisks", pairs}, {"AutoStopInstance", true}};
        if (!a.handle("ApplySnapshotGroup", body, t_apply).error) {
            applied = true;
            break;
        }
    }
    REQUIRE(applied);
    const auto t_save = t_apply + 500ms;  // the rollback takes 6 s x 0.2
    (void)everything(a, t_save);
    std::map<std::string, int> states;
    for (const auto& g : a.groups()) ++states[g.state];
    CHECK(states["ROLLBACKING"] == 1);  // what the save catches under way
    CHECK(states["CREATING"] > 0);
    CHECK(states["FAILED"] > 0);
    const auto saved = a.save(t_save);

    // The new process: another steady clock, its system clock at the save's wall time.
    fleet_params p2 = p;
    const auto wall_save = wall0 + (t_save - t0);
    p2.system_now = [wall_save] {
        return std::chrono::time_point_cast<std::chrono::system_clock::duration>(wall_save);
    };
    const time_point s0 = time_point{} + 5h;
    auto b = fleet_state::load(p2, saved, std::make_shared<cbs::emu::id_registry>(), s0);
    for (std::chrono::milliseconds d : {0ms, 1500ms, 4000ms, 30000ms, 600000ms}) {
        CAPTURE(d.count());
        CHECK(everything(b, s0 + d) == everything(a, t_save + d));
    }
    // Both go on the same way: the same ids and timelines for new groups.
    const auto now = t_save + 10min + 1s;
    for (const auto& i : a.instance_ids()) {
        const auto disks = a.disks_of(i);
        if (disks.empty() || disks[0].disk_state != "ATTACHED" || disks[0].migrating || !disks[0].snapshot_ability)
            continue;
        const json::object body{{"DiskIds", json::array{json::value(disks[0].disk_id)}}};
        const auto ra = a.handle("CreateSnapshotGroup", body, now);
        const auto rb = b.handle("CreateSnapshotGroup", body, s0 + 10min + 1s);
        CHECK(json::serialize(ra.response) == json::serialize(rb.response));
        CHECK(ra.error.has_value() == rb.error.has_value());
    }
    CHECK(everything(b, s0 + 11min) == everything(a, t_save + 11min));
    CHECK(json::serialize(b.save(s0 + 11min)) == json::serialize(a.save(t_save + 11min)));
}

TEST_CASE("fleet_state load: what is wrong is named") {
    fleet_params p;
    p.instances = 3;
    fleet_state a(p);
    const auto saved = a.save(t0);
    auto broken = saved;
    broken["groups"] = 7;
    CHECK_THROWS_WITH_AS(fleet_state::load(p, broken, std::make_shared<cbs::emu::id_registry>(), t0),
                         "state.groups is not an array", std::runtime_error);
    broken = saved;
    broken["instances"].as_array()[1].as_object()["state"] = "PAUSED";
    CHECK_THROWS_WITH_AS(fleet_state::load(p, broken, std::make_shared<cbs::emu::id_registry>(), t0),
                         "state.instances[1].state is not RUNNING or STOPPED", std::runtime_error);
    broken = saved;
    broken["disks"].as_array()[0].as_object().erase("zone");
    CHECK_THROWS_WITH_AS(fleet_state::load(p, broken, std::make_shared<cbs::emu::id_registry>(), t0),
                         "state.disks[0].zone is missing", std::runtime_error);
    CHECK_THROWS_AS(fleet_state::load(p, saved, nullptr, t0), std::invalid_argument);
    auto ids = std::make_shared<cbs::emu::id_registry>();
    auto b = fleet_state::load(p, saved, ids, t0);
    CHECK(b.instance_ids() == a.instance_ids());
    CHECK(ids->ids.count(a.instance_ids()[0]) == 1);
}
