// The emulator's fleet as hard as the service: listing lag, real clock,
// uneven creation, failed groups, odd disks, every DescribeDisks filter.
// All on fleet_state's injected steady (and system) clock: no sleeps.
#include <cbs/emulator/fleet_state.hpp>
#include <cbs/error.hpp>

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace json = boost::json;
using cbs::emu::action_result;
using cbs::emu::fleet_params;
using cbs::emu::fleet_state;
using namespace std::chrono_literals;

namespace {

const cbs::emu::clock::time_point t0 = cbs::emu::clock::time_point{} + 1000h;

action_result call(fleet_state& fs, std::string_view action, const std::string& body, cbs::emu::clock::time_point now) {
    return fs.handle(action, json::parse(body).as_object(), now);
}

void check_code(const action_result& r, std::string_view code) {
    REQUIRE_MESSAGE(r.error.has_value(), "expected ", code, ", got success: ", json::serialize(r.response));
    CHECK(r.error->code == code);
    CHECK_FALSE(r.error->message.empty());
    CHECK(cbs::api_error_from_string(code) != cbs::make_error_code(cbs::api_errc::unrecognized));
}

json::object ok(const action_result& r) {
    REQUIRE_MESSAGE(!r.error, (r.error ? r.error->code + ": " + r.error->message : std::string()));
    return r.response;
}

std::int64_t total(const action_result& r) {
    return ok(r).at("TotalCount").to_number<std::int64_t>();
}

fleet_params small(std::size_t n = 20) {
    fleet_params p;
    p.instances = n;
    p.no_snapshot_ability = 0.0;
    return p;
}

std::string create(fleet_state& fs, const std::string& disk, const std::string& name, cbs::emu::clock::time_point now) {
    auto r =
        call(fs, "CreateSnapshotGroup", R"({"DiskIds":[")" + disk + R"("],"SnapshotGroupName":")" + name + "\"}", now);
    return std::string(ok(r).at("SnapshotGroupId").as_string());
}

std::string by_filter(const std::string& name, const std::string& value) {
    return R"({"Filters":[{"Name":")" + name + R"(","Values":[")" + value + R"("]}]})";
}

}  // namespace

TEST_SUITE("fleet_state") {
    TEST_CASE("fleet: listing lag hides a new group from every listing until T + lag; it exists meanwhile") {
        auto p = small();
        p.list_lag = 8s;
        p.creating_time = 3s;
        fleet_state fs(p);
        const auto ins = fs.instance_ids();
        const auto disk = fs.disks_of(ins[0])[0].disk_id;
        const auto id = create(fs, disk, "nightly-1", t0);

        auto groups = [&](const std::string& body, cbs::emu::clock::time_point now) {
            return total(call(fs, "DescribeSnapshotGroups", body, now));
        };
        for (auto at : {t0, t0 + 3s, t0 + 7999ms}) {
            CAPTURE((at - t0).count());
            CHECK(groups(by_filter("snapshot-group-id", id), at) == 0);
            CHECK(groups(by_filter("snapshot-group-name", "nightly-1"), at) == 0);
            CHECK(groups("{}", at) == 0);
            CHECK(total(call(fs, "DescribeSnapshots", by_filter("disk-id", disk), at)) == 0);
            CHECK(total(call(fs, "DescribeSnapshots", "{}", at)) == 0);
        }
        // The true state, whatever the lag: one group by that name, not listed yet.
        auto named = fs.groups_named("nightly-1");
        REQUIRE(named.size() == 1);
        CHECK(named[0].group_id == id);
        CHECK_FALSE(named[0].listed);
        CHECK(fs.snapshot_count() == 1);

        // Listed from T + lag on, by any filter.
        const auto later = t0 + 8s;
        CHECK(groups(by_filter("snapshot-group-id", id), later) == 1);
        CHECK(groups(by_filter("snapshot-group-name", "nightly-1"), later) == 1);
        CHECK(groups("{}", later) == 1);
        CHECK(total(call(fs, "DescribeSnapshots", by_filter("disk-id", disk), later)) == 1);
        CHECK(fs.groups_named("nightly-1")[0].listed);
    }

    TEST_CASE("fleet: an unlisted group counts against the quota and keeps its disks busy") {
        auto p = small();
        p.list_lag = 30s;
        p.creating_time = 3s;
        p.snapshot_quota = 1;
        fleet_state fs(p);
        const auto ins = fs.instance_ids();
        const auto disk = fs.disks_of(ins[0])[0].disk_id;
        create(fs, disk, "a", t0);
        check_code(call(fs, "CreateSnapshotGroup", R"({"DiskIds":[")" + disk + R"("]})", t0 + 1s),
                   "InvalidDisk.SnapshotCreating");
        check_code(
            call(fs, "CreateSnapshotGroup", R"({"DiskIds":[")" + fs.disks_of(ins[1])[0].disk_id + R"("]})", t0 + 1s),
            "InsufficientSnapshotQuota");
    }

    TEST_CASE("fleet: a CREATING group can't be deleted (StateError, unchanged); an unlisted NORMAL one can") {
        auto p = small();
        p.list_lag = 20s;
        p.creating_time = 3s;
        fleet_state fs(p);
        const auto ins = fs.instance_ids();
        const auto id = create(fs, fs.disks_of(ins[0])[0].disk_id, "x", t0);
        const std::string del = R"({"SnapshotGroupId":")" + id + "\"}";

        check_code(call(fs, "DeleteSnapshotGroup", del, t0 + 1s), "UnsupportedOperation.StateError");
        REQUIRE(fs.groups_named("x").size() == 1);
        CHECK(fs.snapshot_count() == 1);
        // NORMAL at t0+3s, still unlisted until t0+20s: deleting by id works.
        ok(call(fs, "DeleteSnapshotGroup", del, t0 + 4s));
        CHECK(fs.groups_named("x").empty());
        CHECK(fs.snapshot_count() == 0);
        CHECK(total(call(fs, "DescribeSnapshotGroups", by_filter("snapshot-group-name", "x"), t0 + 30s)) == 0);
    }

    TEST_CASE("fleet: without a lag a group is listed at once (the library default)") {
        fleet_state fs(small());
        CHECK(fleet_params{}.list_lag == 0ms);
        const auto ins = fs.instance_ids();
        const auto id = create(fs, fs.disks_of(ins[0])[0].disk_id, "now", t0);
        CHECK(total(call(fs, "DescribeSnapshotGroups", by_filter("snapshot-group-id", id), t0)) == 1);
        CHECK(fs.groups_named("now")[0].listed);
    }

}  // TEST_SUITE
