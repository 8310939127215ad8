// The emulator's fleet as hard as the service: listing lag, real clock,
// uneven creation, failed groups, odd disks, every DescribeDisks filter.
// All on fleet_state's injected steady (and system) clock: no sleeps.
#include <cbs/emulator/fleet_state.hpp>
#include <cbs/error.hpp>

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
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

std::string ids_json(const std::vector<std::string>& ids) {
    json::array a;
    for (const auto& i : ids) a.emplace_back(i);
    return json::serialize(a);
}

// "YYYY-MM-DD hh:mm:ss" -> Unix seconds of that wall time read as UTC.
std::int64_t parse_time(const std::string& t) {
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
    REQUIRE(std::sscanf(t.c_str(), "%d-%d-%d %d:%d:%d", &y, &mo, &d, &h, &mi, &se) == 6);
    using namespace std::chrono;
    const sys_days day{year{y} / month{static_cast<unsigned>(mo)} / static_cast<unsigned>(d)};
    return duration_cast<seconds>(day.time_since_epoch()).count() + h * 3600 + mi * 60 + se;
}

std::chrono::system_clock::time_point unix_time(std::int64_t s) {
    return std::chrono::system_clock::time_point{std::chrono::seconds{s}};
}

// Every disk, as DescribeDisks answers, in pages of 100.
json::array all_disks(fleet_state& fs, cbs::emu::clock::time_point now, const std::string& filters = "") {
    json::array out;
    for (std::size_t offset = 0;; offset += 100) {
        std::string body = R"({"Limit":100,"Offset":)" + std::to_string(offset);
        if (!filters.empty()) body += R"(,"Filters":)" + filters;
        const auto r = ok(call(fs, "DescribeDisks", body + "}", now));
        for (const auto& d : r.at("DiskSet").as_array()) out.push_back(d);
        if (out.size() >= r.at("TotalCount").to_number<std::size_t>()) return out;
    }
}

std::string str(const json::value& v) {
    return std::string(v.as_string());
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

    // ---- real clock, names, DiskIds limit ----

    TEST_CASE("fleet: times come from the system clock at the first request, written in Beijing time") {
        auto p = small();
        p.system_now = [] { return unix_time(1796245200); };  // 2026-12-02 21:00:00 UTC
        fleet_state fs(p);
        const auto ins = fs.instance_ids();
        const auto a = create(fs, fs.disks_of(ins[0])[0].disk_id, "a", t0);
        const auto b = create(fs, fs.disks_of(ins[1])[0].disk_id, "b", t0 + 90s);
        const auto r = ok(call(fs, "DescribeSnapshotGroups", R"({"Limit":100})", t0 + 200s));
        std::map<std::string, json::object> by_id;
        for (const auto& g : r.at("SnapshotGroupSet").as_array()) by_id[str(g.at("SnapshotGroupId"))] = g.as_object();
        CHECK(str(by_id.at(a).at("CreateTime")) == "2026-12-03 05:00:00");
        CHECK(str(by_id.at(a).at("ModifyTime")) == "2026-12-03 05:00:03");  // NORMAL after 3 s
        CHECK(str(by_id.at(b).at("CreateTime")) == "2026-12-03 05:01:30");
        const auto snaps =
            ok(call(fs, "DescribeSnapshots", by_filter("disk-id", fs.disks_of(ins[1])[0].disk_id), t0 + 200s));
        CHECK(str(snaps.at("SnapshotSet").as_array()[0].at("CreateTime")) == "2026-12-03 05:01:30");
        // Disks were created before the first request.
        for (const auto& d : all_disks(fs, t0 + 200s))
            CHECK(parse_time(str(d.at("CreateTime"))) < 1796245200 + 8 * 3600);

        auto utc = p;
        utc.utc_offset = std::chrono::minutes{0};
        fleet_state fu(utc);
        const auto c = create(fu, fu.disks_of(fu.instance_ids()[0])[0].disk_id, "c", t0);
        const auto g = ok(call(fu, "DescribeSnapshotGroups", by_filter("snapshot-group-id", c), t0));
        CHECK(str(g.at("SnapshotGroupSet").as_array()[0].at("CreateTime")) == "2026-12-02 21:00:00");
    }

    TEST_CASE("fleet: by default the times are the real clock's (not a fixed epoch)") {
        fleet_state fs(small());
        const auto before =
            std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
        const auto id = create(fs, fs.disks_of(fs.instance_ids()[0])[0].disk_id, "now", t0);
        const auto after =
            std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
        const auto g = ok(call(fs, "DescribeSnapshotGroups", by_filter("snapshot-group-id", id), t0));
        const auto created = parse_time(str(g.at("SnapshotGroupSet").as_array()[0].at("CreateTime"))) - 8 * 3600;
        CHECK(created >= before);
        CHECK(created <= after);
    }

    TEST_CASE("fleet: DiskIds over 64 refused with InvalidParameterValue; 64 accepted by DescribeDisks") {
        fleet_state fs(small(40));
        std::vector<std::string> ids;
        for (const auto& d : all_disks(fs, t0)) ids.push_back(str(d.at("DiskId")));
        REQUIRE(ids.size() > 64);
        ids.resize(65);
        check_code(call(fs, "DescribeDisks", R"({"DiskIds":)" + ids_json(ids) + "}", t0), "InvalidParameterValue");
        check_code(call(fs, "CreateSnapshotGroup", R"({"DiskIds":)" + ids_json(ids) + "}", t0),
                   "InvalidParameterValue");
        CHECK(fs.groups().empty());
        ids.resize(64);
        CHECK(total(call(fs, "DescribeDisks", R"({"DiskIds":)" + ids_json(ids) + R"(,"Limit":100})", t0)) == 64);
    }

    // ---- DescribeDisks filters ----

    TEST_CASE("fleet: every documented DescribeDisks filter selects what the disks say") {
        fleet_state fs(small(60));
        const auto disks = all_disks(fs, t0);
        // Expected counts from the unfiltered answer's own fields.
        auto count_if = [&](auto pred) {
            return static_cast<std::int64_t>(
                std::count_if(disks.begin(), disks.end(), [&](const json::value& v) { return pred(v.as_object()); }));
        };
        auto filtered = [&](const std::string& name, const std::string& value) {
            return total(call(fs, "DescribeDisks", by_filter(name, value), t0));
        };
        const auto& d0 = disks[0].as_object();
        const auto zone = str(d0.at("Placement").at("Zone"));
        CHECK(filtered("zone", zone) ==
              count_if([&](const json::object& d) { return str(d.at("Placement").at("Zone")) == zone; }));
        for (std::string ct : {"PREPAID", "POSTPAID_BY_HOUR"}) {
            const auto n = count_if([&](const json::object& d) { return str(d.at("DiskChargeType")) == ct; });
            CHECK(n > 0);  // the seeded fleet has both
            CHECK(filtered("disk-charge-type", ct) == n);
        }
        CHECK(filtered("disk-name", str(d0.at("DiskName"))) == 1);
        CHECK(filtered("portable", "TRUE") ==
              count_if([](const json::object& d) { return d.at("Portable").as_bool(); }));
        CHECK(filtered("portable", "FALSE") ==
              count_if([](const json::object& d) { return !d.at("Portable").as_bool(); }));
        for (std::string pid : {"0", "1001"}) {
            const auto n = count_if([&](const json::object& d) {
                return std::to_string(d.at("Placement").at("ProjectId").to_number<std::int64_t>()) == pid;
            });
            CHECK(n > 0);
            CHECK(filtered("project-id", pid) == n);
        }
        CHECK(filtered("disk-type", "CLOUD_SSD") ==
              count_if([](const json::object& d) { return str(d.at("DiskType")) == "CLOUD_SSD"; }));
        auto has_tag = [](const json::object& d, const std::string& k, const std::string* v) {
            for (const auto& t : d.at("Tags").as_array())
                if (str(t.at("Key")) == k && (!v || str(t.at("Value")) == *v)) return true;
            return false;
        };
        const std::string prod = "prod";
        const auto n_env = count_if([&](const json::object& d) { return has_tag(d, "env", nullptr); });
        const auto n_prod = count_if([&](const json::object& d) { return has_tag(d, "env", &prod); });
        CHECK(n_prod > 0);
        CHECK(n_env > n_prod);
        CHECK(filtered("tag-key", "env") == n_env);
        CHECK(filtered("tag:env", "prod") == n_prod);
        CHECK(filtered("tag-value", "prod") == n_prod);
        CHECK(filtered("tag:env", "nowhere") == 0);
        // Instance attributes: the n-th instance is "<team>-n" at 10.0.0.n.
        const auto ins = fs.instance_ids();
        CHECK(filtered("instance-ip-address", "10.0.0.3") == static_cast<std::int64_t>(fs.disks_of(ins[3]).size()));
        CHECK(filtered("instance-name", "no-such-name") == 0);
        CHECK(filtered("dedicated-cluster-id", "cdc-12345678") == 0);
        CHECK(filtered("cluster-group-id", "x") == 0);
        // AND across filters.
        CHECK(
            total(call(
                fs, "DescribeDisks",
                R"({"Filters":[{"Name":"tag:env","Values":["prod"]},{"Name":"disk-usage","Values":["SYSTEM_DISK"]}]})",
                t0)) == count_if([&](const json::object& d) {
                return has_tag(d, "env", &prod) && str(d.at("DiskUsage")) == "SYSTEM_DISK";
            }));

        // Bad values name the filter; unknown names stay InvalidFilter.
        check_code(call(fs, "DescribeDisks", by_filter("portable", "yes"), t0), "InvalidParameterValue");
        check_code(call(fs, "DescribeDisks", by_filter("disk-charge-type", "FREE"), t0), "InvalidParameterValue");
        check_code(call(fs, "DescribeDisks", by_filter("disk-type", "FLOPPY"), t0), "InvalidParameterValue");
        check_code(call(fs, "DescribeDisks", by_filter("project-id", "abc"), t0), "InvalidParameterValue");
        check_code(call(fs, "DescribeDisks", by_filter("colour", "red"), t0), "InvalidFilter");
        check_code(call(fs, "DescribeDisks", by_filter("tag:", "x"), t0), "InvalidFilter");
    }

    TEST_CASE("fleet: instance tags reach its disks, so --all --tag KEY=VALUE selects whole instances") {
        fleet_state fs(small(30));
        const auto ins = fs.instance_ids();
        fs.set_instance_tags(ins[4], {{"backup", "nightly"}});
        fs.set_instance_tags(ins[9], {{"backup", "nightly"}, {"env", "prod"}});
        fs.set_instance_tags(ins[11], {{"backup", "weekly"}});
        const auto r = all_disks(fs, t0, R"([{"Name":"tag:backup","Values":["nightly"]}])");
        std::set<std::string> instances;
        for (const auto& d : r) instances.insert(str(d.at("InstanceId")));
        CHECK(instances == std::set<std::string>{ins[4], ins[9]});
        CHECK(r.size() == fs.disks_of(ins[4]).size() + fs.disks_of(ins[9]).size());
        CHECK(fs.instance_tags(ins[9]).size() == 2);
        CHECK_THROWS_AS(fs.set_instance_tags("ins-zzzzzzzz", {}), std::invalid_argument);
    }

    // ---- creation timeline ----

    namespace {

    // One group per instance (its system disk), all created at t0.
    std::vector<std::string> create_all(fleet_state& fs) {
        std::vector<std::string> ids;
        for (const auto& i : fs.instance_ids()) ids.push_back(create(fs, fs.disks_of(i)[0].disk_id, "g-" + i, t0));
        return ids;
    }

    std::map<std::string, std::int64_t> count_states(fleet_state& fs, cbs::emu::clock::time_point now) {
        std::map<std::string, std::int64_t> out;
        for (const auto& g : fs.groups()) ++out[g.state];
        (void)now;
        return out;
    }

    }  // namespace

    TEST_CASE("fleet: uneven creation: most groups in seconds, a long tail to minutes, Percent rising unevenly") {
        auto p = small(300);
        p.uneven_creation = true;
        fleet_state fs(p);
        const auto ids = create_all(fs);
        auto states_at = [&](cbs::emu::clock::time_point now) {
            total(call(fs, "DescribeSnapshotGroups", "{}", now));  // moves the fleet's clock
            return count_states(fs, now);
        };
        const auto at6 = states_at(t0 + 6s);
        CHECK(at6.at("NORMAL") >= 230);   // ~85% within 2 x 3 s
        CHECK(at6.at("CREATING") >= 15);  // the tail
        const auto at60 = states_at(t0 + 60s);
        CHECK(at60.count("CREATING") == 1);  // a few take minutes
        CHECK(at60.at("CREATING") >= 1);
        CHECK(states_at(t0 + 301s).count("CREATING") == 0);  // at most 100 x 3 s

        // Percent: never falls, never 100 while CREATING, and not a straight line.
        auto p2 = small(40);
        p2.uneven_creation = true;
        p2.creating_time = 10s;
        fleet_state f2(p2);
        const auto g2 = create_all(f2);
        std::size_t off_line = 0;
        for (const auto& id : g2) {
            int last = -1;
            bool bent = false;
            for (int k = 0; k <= 40; ++k) {
                const auto now = t0 + std::chrono::milliseconds(k * 500);
                const auto r = ok(call(f2, "DescribeSnapshotGroups", by_filter("snapshot-group-id", id), now));
                const auto& g = r.at("SnapshotGroupSet").as_array()[0];
                const int pc = g.at("Percent").to_number<int>();
                CHECK(pc >= last);
                if (str(g.at("SnapshotGroupState")) == "CREATING") CHECK(pc < 100);
                const int linear = k * 500 / 100;  // what a straight line over 10 s would give
                bent = bent || (str(g.at("SnapshotGroupState")) == "CREATING" && std::abs(pc - linear) > 10);
                last = pc;
            }
            off_line += bent;
        }
        CHECK(off_line >= 20);
    }

    TEST_CASE("fleet: time_scale shrinks the timeline; the defaults keep a fixed creating_time") {
        auto p = small(100);
        p.uneven_creation = true;
        p.time_scale = 0.01;  // the longest (300 s) becomes 3 s
        fleet_state fs(p);
        create_all(fs);
        total(call(fs, "DescribeSnapshotGroups", "{}", t0 + 3001ms));
        CHECK(count_states(fs, t0).count("CREATING") == 0);

        fleet_params d;
        CHECK_FALSE(d.uneven_creation);
        CHECK_FALSE(d.realistic);
        CHECK(d.failed_fraction == 0.0);
        CHECK(d.time_scale == 1.0);
        CHECK(d.creating_time == 3s);
        auto bad = small();
        bad.time_scale = 0;
        CHECK_THROWS_AS(fleet_state{bad}, std::invalid_argument);
        bad = small();
        bad.failed_fraction = 1.5;
        CHECK_THROWS_AS(fleet_state{bad}, std::invalid_argument);
    }

    TEST_CASE("fleet: a fraction of groups end FAILED: Percent stops, snapshots gone, disks free, deletable") {
        auto p = small(300);
        p.failed_fraction = 0.1;
        fleet_state fs(p);
        const auto ids = create_all(fs);
        CHECK(fs.snapshot_count() == 300);
        const auto later = t0 + 4s;
        const auto failed =
            ok(call(fs, "DescribeSnapshotGroups",
                    R"({"Limit":100,"Filters":[{"Name":"snapshot-group-state","Values":["FAILED"]}]})", later));
        const auto n_failed = failed.at("TotalCount").to_number<std::size_t>();
        CHECK(n_failed >= 15);
        CHECK(n_failed <= 50);
        CHECK(total(call(fs, "DescribeSnapshotGroups", by_filter("snapshot-group-state", "NORMAL"), later)) ==
              static_cast<std::int64_t>(300 - n_failed));
        CHECK(fs.snapshot_count() == 300 - n_failed);

        const auto& g = failed.at("SnapshotGroupSet").as_array()[0].as_object();
        const auto id = str(g.at("SnapshotGroupId"));
        const int pc = g.at("Percent").to_number<int>();
        CHECK(pc < 100);
        // Percent stays where it stopped.
        const auto again = ok(call(fs, "DescribeSnapshotGroups", by_filter("snapshot-group-id", id), t0 + 60s));
        CHECK(again.at("SnapshotGroupSet").as_array()[0].at("Percent").to_number<int>() == pc);
        CHECK(str(again.at("SnapshotGroupSet").as_array()[0].at("SnapshotGroupState")) == "FAILED");
        // Its snapshots are gone; its disk can be snapshotted again; it can be deleted.
        std::string disk;
        for (const auto& v : fs.groups())
            if (v.group_id == id) disk = v.disk_ids[0];
        CHECK(total(call(fs, "DescribeSnapshots", by_filter("disk-id", disk), t0 + 60s)) == 0);
        create(fs, disk, "retry", t0 + 60s);
        ok(call(fs, "DeleteSnapshotGroup", R"({"SnapshotGroupId":")" + id + "\"}", t0 + 60s));
        CHECK(fs.groups_named(fs.groups().front().name).size() == 1);
    }

    // ---- realistic fleet: odd disks from state ----

    namespace {

    struct odd_disks {
        std::vector<cbs::emu::disk_view> migrating, rollbacking, attaching, detaching;
    };

    odd_disks find_odd(const fleet_state& fs) {
        odd_disks o;
        for (const auto& i : fs.instance_ids())
            for (const auto& d : fs.disks_of(i)) {
                if (!d.changes_at) continue;
                if (d.migrating)
                    o.migrating.push_back(d);
                else if (d.rollbacking)
                    o.rollbacking.push_back(d);
                else if (d.disk_state == "ATTACHING")
                    o.attaching.push_back(d);
                else if (d.disk_state == "DETACHING")
                    o.detaching.push_back(d);
            }
        return o;
    }

    json::object describe_disk(fleet_state& fs, const std::string& id, cbs::emu::clock::time_point now) {
        return ok(call(fs, "DescribeDisks", R"({"DiskIds":[")" + id + R"("]})", now))
            .at("DiskSet")
            .as_array()
            .at(0)
            .as_object();
    }

    action_result create_on(fleet_state& fs, const std::string& disk, cbs::emu::clock::time_point now) {
        return call(fs, "CreateSnapshotGroup", R"({"DiskIds":[")" + disk + R"("]})", now);
    }

    fleet_params realistic(std::size_t n = 100) {
        auto p = small(n);
        p.realistic = true;
        p.time_scale = 0.1;
        return p;
    }

    }  // namespace

    TEST_CASE("fleet: realistic mode: a few instances of each odd kind, many data disks and none") {
        fleet_state fs(realistic());
        total(call(fs, "DescribeDisks", "{}", t0));  // the first request fixes the origin
        const auto o = find_odd(fs);
        CHECK(o.migrating.size() == 3);
        CHECK(o.rollbacking.size() == 3);
        CHECK(o.attaching.size() == 3);
        CHECK(o.detaching.size() == 3);
        std::size_t many = 0, none = 0;
        for (const auto& i : fs.instance_ids()) {
            std::size_t data = 0;
            for (const auto& d : fs.disks_of(i)) data += d.disk_usage == "DATA_DISK";
            CHECK(data <= 20);
            many += data >= 8;
            none += data == 0;
        }
        CHECK(many >= 3);
        CHECK(none >= 1);
        // Changes fall within the scaled bounds (at most 180 s x 0.1).
        for (const auto* kind : {&o.migrating, &o.rollbacking, &o.attaching, &o.detaching})
            for (const auto& d : *kind) {
                CHECK(*d.changes_at > t0);
                CHECK(*d.changes_at <= t0 + 18s);
            }
        // Same seed, same realistic fleet; the base fleet's instances don't move.
        fleet_state again(realistic());
        CHECK(again.instance_ids() == fs.instance_ids());
        fleet_state plain(small(100));
        CHECK(plain.instance_ids() == fs.instance_ids());
        CHECK(plain.disks_of(fs.instance_ids()[0])[0].disk_id == fs.disks_of(fs.instance_ids()[0])[0].disk_id);
    }

    TEST_CASE(
        "fleet: realistic: a migrating disk is refused with ResourceInUse.DiskMigrating until its migration ends") {
        fleet_state fs(realistic());
        total(call(fs, "DescribeDisks", "{}", t0));
        const auto d = find_odd(fs).migrating.at(0);
        const auto until = *d.changes_at;
        auto j = describe_disk(fs, d.disk_id, t0);
        CHECK(j.at("Migrating").as_bool());
        const int p1 = j.at("MigratePercent").to_number<int>();
        CHECK(p1 >= 1);
        CHECK(p1 <= 99);
        check_code(create_on(fs, d.disk_id, t0), "ResourceInUse.DiskMigrating");
        check_code(create_on(fs, d.disk_id, until - 1ms), "ResourceInUse.DiskMigrating");
        CHECK(describe_disk(fs, d.disk_id, until - 1ms).at("MigratePercent").to_number<int>() >= p1);
        j = describe_disk(fs, d.disk_id, until);
        CHECK_FALSE(j.at("Migrating").as_bool());
        CHECK(j.at("MigratePercent").to_number<int>() == 0);
        ok(create_on(fs, d.disk_id, until));
        CHECK_FALSE(fs.disk(d.disk_id)->changes_at.has_value());
    }

    TEST_CASE(
        "fleet: realistic: a disk rolling back is ROLLBACKING and refused with ResourceInUse.DiskRollbacking until "
        "done") {
        fleet_state fs(realistic());
        total(call(fs, "DescribeDisks", "{}", t0));
        const auto d = find_odd(fs).rollbacking.at(0);
        const auto until = *d.changes_at;
        auto j = describe_disk(fs, d.disk_id, t0);
        CHECK(j.at("Rollbacking").as_bool());
        CHECK(str(j.at("DiskState")) == "ROLLBACKING");
        CHECK(j.at("RollbackPercent").to_number<int>() >= 1);
        CHECK(total(call(fs, "DescribeDisks", by_filter("disk-state", "ROLLBACKING"), t0)) == 3);
        check_code(create_on(fs, d.disk_id, until - 1ms), "ResourceInUse.DiskRollbacking");
        j = describe_disk(fs, d.disk_id, until);
        CHECK_FALSE(j.at("Rollbacking").as_bool());
        CHECK(str(j.at("DiskState")) == "ATTACHED");
        ok(create_on(fs, d.disk_id, until));
    }

    TEST_CASE("fleet: realistic: an attaching disk is ATTACHING (not Attached) and ResourceInUse, then ATTACHED") {
        fleet_state fs(realistic());
        total(call(fs, "DescribeDisks", "{}", t0));
        const auto d = find_odd(fs).attaching.at(0);
        const auto until = *d.changes_at;
        CHECK(total(call(fs, "DescribeDisks", by_filter("disk-state", "ATTACHING"), t0)) == 3);
        auto j = describe_disk(fs, d.disk_id, t0);
        CHECK_FALSE(j.at("Attached").as_bool());
        CHECK(str(j.at("InstanceId")) == d.instance_id);  // listed with the instance it is joining
        check_code(create_on(fs, d.disk_id, until - 1ms), "ResourceInUse");
        j = describe_disk(fs, d.disk_id, until);
        CHECK(j.at("Attached").as_bool());
        CHECK(str(j.at("DiskState")) == "ATTACHED");
        ok(create_on(fs, d.disk_id, until));
    }

    TEST_CASE("fleet: realistic: a detaching disk is ResourceInUse, then UNATTACHED and no longer the instance's") {
        fleet_state fs(realistic());
        total(call(fs, "DescribeDisks", "{}", t0));
        const auto d = find_odd(fs).detaching.at(0);
        const auto until = *d.changes_at;
        const auto ins = d.instance_id;
        const auto before = total(call(fs, "DescribeDisks", by_filter("instance-id", ins), t0));
        CHECK(str(describe_disk(fs, d.disk_id, t0).at("DiskState")) == "DETACHING");
        check_code(create_on(fs, d.disk_id, until - 1ms), "ResourceInUse");
        const auto j = describe_disk(fs, d.disk_id, until);
        CHECK(str(j.at("DiskState")) == "UNATTACHED");
        CHECK_FALSE(j.at("Attached").as_bool());
        CHECK(str(j.at("InstanceId")) == "");
        CHECK(total(call(fs, "DescribeDisks", by_filter("instance-id", ins), until)) == before - 1);
        check_code(create_on(fs, d.disk_id, until), "InvalidParameterValue");  // not attached to an instance
        CHECK(fs.disk(d.disk_id)->instance_id.empty());
    }

}  // TEST_SUITE
