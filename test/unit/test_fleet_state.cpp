// The emulator's pure state: the synthetic fleet and the five CBS actions.
#include <cbs/emulator/fleet_state.hpp>
#include <cbs/error.hpp>

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
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

action_result call(fleet_state& fs, std::string_view action, std::string_view body,
                   cbs::emu::clock::time_point now = t0) {
    return fs.handle(action, json::parse(body).as_object(), now);
}

// Every code the emulator answers must be one the client library knows.
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

fleet_params small(std::size_t n = 50) {
    fleet_params p;
    p.instances = n;
    p.no_snapshot_ability = 0.0;
    return p;
}

std::string ids_json(const std::vector<std::string>& ids) {
    json::array a;
    for (const auto& i : ids) a.emplace_back(i);
    return json::serialize(a);
}

// An instance with at least `n` data disks; its disk ids, system disk first.
std::pair<std::string, std::vector<std::string>> instance_with(const fleet_state& fs, std::size_t n) {
    for (const auto& ins : fs.instance_ids()) {
        auto disks = fs.disks_of(ins);
        if (disks.size() >= n + 1) {
            std::vector<std::string> ids;
            for (const auto& d : disks) ids.push_back(d.disk_id);
            return {ins, ids};
        }
    }
    FAIL("no instance with enough data disks");
    return {};
}

std::string create(fleet_state& fs, const std::vector<std::string>& disks, std::string_view name,
                   cbs::emu::clock::time_point now = t0) {
    auto r = call(fs, "CreateSnapshotGroup",
                  R"({"DiskIds":)" + ids_json(disks) + R"(,"SnapshotGroupName":")" + std::string(name) + "\"}", now);
    return std::string(ok(r).at("SnapshotGroupId").as_string());
}

json::object describe_group(fleet_state& fs, const std::string& id, cbs::emu::clock::time_point now) {
    auto r = call(fs, "DescribeSnapshotGroups",
                  R"({"Filters":[{"Name":"snapshot-group-id","Values":[")" + id + R"("]}]})", now);
    const auto resp = ok(r);
    const auto& set = resp.at("SnapshotGroupSet").as_array();
    REQUIRE(set.size() == 1);
    return set[0].as_object();
}

// Hand-rolled rather than std::regex: GCC 12 warns inside <regex> at -O2.
bool id_like(const std::string& id, const std::string& prefix) {
    if (id.size() != prefix.size() + 8 || id.rfind(prefix, 0) != 0) return false;
    return std::all_of(id.begin() + static_cast<std::ptrdiff_t>(prefix.size()), id.end(),
                       [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
}

// "YYYY-MM-DD HH:MM:SS"
bool time_like(const std::string& t) {
    const std::string shape = "dddd-dd-dd dd:dd:dd";
    if (t.size() != shape.size()) return false;
    for (std::size_t i = 0; i < t.size(); ++i)
        if (shape[i] == 'd' ? !(t[i] >= '0' && t[i] <= '9') : t[i] != shape[i]) return false;
    return true;
}

}  // namespace

TEST_SUITE("fleet_state") {
    TEST_CASE("same seed, same fleet; another seed, another fleet") {
        fleet_params p;
        p.instances = 100;
        fleet_state a(p), b(p);
        CHECK(a.instance_ids() == b.instance_ids());
        auto all = R"({"Limit":100,"Offset":0})";
        CHECK(json::serialize(ok(call(a, "DescribeDisks", all))) == json::serialize(ok(call(b, "DescribeDisks", all))));
        // Runtime ids are deterministic too.
        auto [ins, disks] = instance_with(a, 0);
        CHECK(create(a, {disks[0]}, "x") == create(b, {disks[0]}, "x"));
        p.seed = 2;
        fleet_state c(p);
        CHECK(a.instance_ids() != c.instance_ids());
    }

    TEST_CASE("fleet shape") {
        fleet_params p;
        p.instances = 2000;
        p.unattached_disks = 25;
        p.no_snapshot_ability = 0.1;
        p.migrating = 0.05;
        p.rollbacking = 0.05;
        fleet_state fs(p);
        const auto ins = fs.instance_ids();
        REQUIRE(ins.size() == 2000);
        std::set<std::string> seen;
        std::size_t data = 0, no_snap = 0, migrating = 0, rollbacking = 0, attached = 0;
        std::vector<std::size_t> data_count(4, 0);
        for (const auto& i : ins) {
            CHECK(id_like(i, "ins-"));
            CHECK(seen.insert(i).second);
            auto disks = fs.disks_of(i);
            REQUIRE(disks.size() >= 1);
            REQUIRE(disks.size() <= 4);
            ++data_count[disks.size() - 1];
            CHECK(disks[0].disk_usage == "SYSTEM_DISK");
            CHECK(disks[0].snapshot_ability);
            for (std::size_t k = 0; k < disks.size(); ++k) {
                const auto& d = disks[k];
                CHECK(id_like(d.disk_id, "disk-"));
                CHECK(seen.insert(d.disk_id).second);
                CHECK(d.instance_id == i);
                CHECK(d.disk_state == "ATTACHED");
                CHECK_FALSE((d.migrating && d.rollbacking));
                if (k > 0) {
                    CHECK(d.disk_usage == "DATA_DISK");
                    ++data;
                    no_snap += d.snapshot_ability ? 0 : 1;
                }
                ++attached;
                migrating += d.migrating ? 1 : 0;
                rollbacking += d.rollbacking ? 1 : 0;
            }
        }
        for (auto c : data_count) CHECK(c > 0);  // 0, 1, 2 and 3 data disks all occur
        auto fraction = [](std::size_t k, std::size_t n) { return static_cast<double>(k) / static_cast<double>(n); };
        auto near = [](double got, double want) { return got > want * 0.7 && got < want * 1.3; };
        CHECK(near(fraction(no_snap, data), 0.1));
        CHECK(near(fraction(migrating, attached), 0.05));
        CHECK(near(fraction(rollbacking, attached), 0.05 * 0.95));  // drawn only for disks not migrating

        const auto loose = fs.disks_of("");
        CHECK(loose.size() == 25);
        for (const auto& d : loose) {
            CHECK(d.disk_state == "UNATTACHED");
            CHECK(d.instance_id.empty());
            CHECK(seen.insert(d.disk_id).second);
        }

        // The documented Disk fields, with their JSON types.
        const auto& r =
            ok(call(fs, "DescribeDisks", R"({"Filters":[{"Name":"disk-state","Values":["UNATTACHED"]}],"Limit":100})"));
        CHECK(r.at("TotalCount").to_number<int>() == 25);
        for (const auto& v : r.at("DiskSet").as_array()) {
            const auto& d = v.as_object();
            CHECK(d.at("Attached").as_bool() == false);
            CHECK(d.at("InstanceId").as_string() == "");
            CHECK(d.at("InstanceIdList").as_array().empty());
        }
        const auto first = fs.disks_of(ins[0])[0].disk_id;
        const auto d = ok(call(fs, "DescribeDisks", R"({"DiskIds":[")" + first + R"("]})"))
                           .at("DiskSet")
                           .as_array()
                           .at(0)
                           .as_object();
        for (auto key :
             {"DiskId", "DiskName", "DiskUsage", "DiskType", "DiskState", "InstanceId", "InstanceType", "CreateTime"})
            CHECK_MESSAGE(d.at(key).is_string(), key);
        for (auto key : {"Attached", "SnapshotAbility", "Migrating", "Rollbacking", "Portable", "Shareable", "Encrypt"})
            CHECK_MESSAGE(d.at(key).is_bool(), key);
        for (auto key : {"MigratePercent", "RollbackPercent", "DiskSize", "SnapshotCount"})
            CHECK_MESSAGE(d.at(key).is_number(), key);
        CHECK(d.at("Attached").as_bool());
        CHECK(d.at("InstanceId").as_string() == ins[0]);
        CHECK(d.at("InstanceType").as_string() == "CVM");
        CHECK(d.at("Shareable").as_bool() == false);
        CHECK(d.at("InstanceIdList").as_array() == json::array{json::value(ins[0])});
        for (const auto& t : d.at("Tags").as_array()) {
            CHECK(t.at("Key").is_string());
            CHECK(t.at("Value").is_string());
        }
        // Pay-as-you-go disks have no deadline; prepaid ones do.
        if (d.at("DiskChargeType").as_string() == "PREPAID")
            CHECK(time_like(std::string(d.at("DeadlineTime").as_string())));
        else
            CHECK(d.at("DeadlineTime").is_null());
        CHECK(std::string(d.at("Placement").at("Zone").as_string()).rfind("ap-guangzhou-", 0) == 0);
        CHECK(d.at("Placement").at("ProjectId").is_number());
        CHECK(time_like(std::string(d.at("CreateTime").as_string())));
        const std::set<std::string> types{"CLOUD_BASIC", "CLOUD_PREMIUM", "CLOUD_BSSD",
                                          "CLOUD_SSD",   "CLOUD_HSSD",    "CLOUD_TSSD"};
        CHECK(types.count(std::string(d.at("DiskType").as_string())) == 1);
    }

    TEST_CASE("DescribeDisks: filters, DiskIds, pagination, order") {
        fleet_state fs(small(60));
        const auto ins = fs.instance_ids();
        std::size_t total_attached = 0;
        for (const auto& i : ins) total_attached += fs.disks_of(i).size();
        const std::size_t total = total_attached + 10;

        SUBCASE("no parameters: the first 20 of all") {
            const auto& r = ok(call(fs, "DescribeDisks", "{}"));
            CHECK(r.at("TotalCount").to_number<std::size_t>() == total);
            CHECK(r.at("DiskSet").as_array().size() == 20);
        }
        SUBCASE("instance-id: OR within Values, AND with disk-usage") {
            const std::string f =
                R"({"Filters":[{"Name":"instance-id","Values":[")" + ins[1] + R"(",")" + ins[2] + R"("]})";
            const auto& r = ok(call(fs, "DescribeDisks", f + R"(],"Limit":100})"));
            const auto n = fs.disks_of(ins[1]).size() + fs.disks_of(ins[2]).size();
            CHECK(r.at("TotalCount").to_number<std::size_t>() == n);
            for (const auto& d : r.at("DiskSet").as_array()) {
                auto id = std::string(d.at("InstanceId").as_string());
                CHECK((id == ins[1] || id == ins[2]));
            }
            const auto& sys = ok(call(fs, "DescribeDisks", f + R"(,{"Name":"disk-usage","Values":["SYSTEM_DISK"]}]})"));
            CHECK(sys.at("TotalCount").to_number<int>() == 2);
            const auto& none = ok(call(fs, "DescribeDisks", f + R"(,{"Name":"disk-state","Values":["UNATTACHED"]}]})"));
            CHECK(none.at("TotalCount").to_number<int>() == 0);
            const auto& by_id =
                ok(call(fs, "DescribeDisks",
                        f + R"(,{"Name":"disk-id","Values":[")" + fs.disks_of(ins[1])[0].disk_id + R"("]}]})"));
            CHECK(by_id.at("TotalCount").to_number<int>() == 1);
        }
        SUBCASE("disk-usage alone") {
            const auto& r =
                ok(call(fs, "DescribeDisks", R"({"Filters":[{"Name":"disk-usage","Values":["SYSTEM_DISK"]}]})"));
            CHECK(r.at("TotalCount").to_number<std::size_t>() == ins.size());
        }
        SUBCASE("DiskIds: unknown ids are just not returned") {
            const auto a = fs.disks_of(ins[0])[0].disk_id;
            const auto& r =
                ok(call(fs, "DescribeDisks", R"({"DiskIds":[")" + a + R"(","disk-zzzzzzzz",")" + a + R"("]})"));
            CHECK(r.at("TotalCount").to_number<int>() == 1);
            CHECK(r.at("DiskSet").as_array()[0].at("DiskId").as_string() == a);
        }
        SUBCASE("pagination visits every disk once") {
            std::set<std::string> seen;
            for (std::size_t off = 0; off < total + 100; off += 37) {
                const auto& r = ok(call(fs, "DescribeDisks", R"({"Limit":37,"Offset":)" + std::to_string(off) + "}"));
                CHECK(r.at("TotalCount").to_number<std::size_t>() == total);
                for (const auto& d : r.at("DiskSet").as_array())
                    CHECK(seen.insert(std::string(d.at("DiskId").as_string())).second);
            }
            CHECK(seen.size() == total);
            CHECK(ok(call(fs, "DescribeDisks", R"({"Limit":100})")).at("DiskSet").as_array().size() == 100);
        }
        SUBCASE("Order DESC reverses") {
            const auto asc = ok(call(fs, "DescribeDisks", R"({"Limit":100,"OrderField":"CREATE_TIME","Order":"ASC"})"));
            const auto desc = ok(call(fs, "DescribeDisks",
                                      R"({"Limit":100,"Offset":)" + std::to_string(total - 1) +
                                          R"(,"OrderField":"CREATE_TIME","Order":"DESC"})"));
            CHECK(asc.at("DiskSet").as_array()[0].at("DiskId") == desc.at("DiskSet").as_array()[0].at("DiskId"));
        }
        SUBCASE("errors") {
            const auto a = fs.disks_of(ins[0])[0].disk_id;
            check_code(call(fs, "DescribeDisks",
                            R"({"DiskIds":[")" + a + R"("],"Filters":[{"Name":"disk-id","Values":[")" + a + R"("]}]})"),
                       "InvalidParameterValue");
            check_code(call(fs, "DescribeDisks", R"({"Limit":101})"), "InvalidParameterValue");
            check_code(call(fs, "DescribeDisks", R"({"Limit":0})"), "InvalidParameterValue");
            check_code(call(fs, "DescribeDisks", R"({"Offset":-1})"), "InvalidParameterValue");
            check_code(call(fs, "DescribeDisks", R"({"Limit":"20"})"), "InvalidParameter");
            check_code(call(fs, "DescribeDisks", R"({"DiskIds":"disk-abcdefgh"})"), "InvalidParameter");
            check_code(call(fs, "DescribeDisks", R"({"DiskIds":["disk-ABC"]})"), "InvalidParameterValue");
            check_code(call(fs, "DescribeDisks", R"({"Filters":[{"Name":"tag:","Values":["prod"]}]})"),
                       "InvalidFilter");
            check_code(call(fs, "DescribeDisks", R"({"Filters":[{"Name":"colour","Values":["red"]}]})"),
                       "InvalidFilter");
            check_code(call(fs, "DescribeDisks", R"({"Filters":[{"Name":"disk-usage","Values":["ROOT"]}]})"),
                       "InvalidParameterValue");
            check_code(call(fs, "DescribeDisks", R"({"Filters":[{"Name":"disk-state","Values":["GONE"]}]})"),
                       "InvalidParameterValue");
            check_code(call(fs, "DescribeDisks", R"({"Filters":[{"Name":"disk-id","Values":[]}]})"),
                       "InvalidParameterValue");
            check_code(call(fs, "DescribeDisks", R"({"Filters":[{"Name":"disk-id"}]})"), "MissingParameter");
            check_code(call(fs, "DescribeDisks", R"({"Filters":[{"Values":["x"]}]})"), "MissingParameter");
            check_code(call(fs, "DescribeDisks", R"({"Filters":{"Name":"disk-id"}})"), "InvalidParameter");
            check_code(call(fs, "DescribeDisks", R"({"OrderField":"SIZE"})"), "InvalidParameterValue");
            auto r = call(fs, "DescribeDisks", R"({"Filters":[{"Name":"disk-id","Values":["x"],"Op":"eq"}]})");
            check_code(r, "UnknownParameter");
            CHECK(r.error->message.find("Filters.0.Op") != std::string::npos);
            r = call(fs, "DescribeDisks", R"({"Region":"ap-guangzhou"})");
            check_code(r, "UnknownParameter");
            CHECK(r.error->message.find("Region") != std::string::npos);
        }
    }

    TEST_CASE("CreateSnapshotGroup: every refusal, and nothing created by one") {
        fleet_state fs(small());
        auto [ins, disks] = instance_with(fs, 2);
        auto [other, other_disks] = instance_with(fs, 0);
        for (const auto& i : fs.instance_ids())
            if (i != ins) {
                other = i;
                other_disks = {fs.disks_of(i)[0].disk_id};
                break;
            }
        const auto loose = fs.disks_of("")[0].disk_id;
        auto create_raw = [&](const std::string& body) { return call(fs, "CreateSnapshotGroup", body); };
        auto with = [&](const std::vector<std::string>& ids) {
            return create_raw(R"({"DiskIds":)" + ids_json(ids) + "}");
        };

        check_code(create_raw("{}"), "MissingParameter");
        check_code(create_raw(R"({"DiskIds":[]})"), "MissingParameter");
        check_code(create_raw(R"({"DiskIds":"disk-abcdefgh"})"), "InvalidParameter");
        check_code(create_raw(R"({"DiskIds":[1]})"), "InvalidParameter");
        check_code(create_raw(R"({"DiskIds":[")" + disks[0] + R"("],"SnapshotGroupName":7})"), "InvalidParameter");
        check_code(create_raw(R"({"DiskIds":[")" + disks[0] + R"("],"Tags":[{"Key":"a"}]})"), "MissingParameter");
        check_code(create_raw(R"({"DiskIds":[")" + disks[0] + R"("],"Tags":[{"Key":"","Value":"b"}]})"),
                   "InvalidParameterValue");
        check_code(create_raw(R"({"DiskIds":[")" + disks[0] + R"("],"Tags":[{"Key":"a","Value":"b","X":1}]})"),
                   "UnknownParameter");
        auto r = create_raw(R"({"DiskIds":[")" + disks[0] + R"("],"ClientToken":"abc"})");
        check_code(r, "UnknownParameter");
        CHECK(r.error->message.find("ClientToken") != std::string::npos);
        check_code(with({"disk-BAD"}), "InvalidParameterValue");
        check_code(with({disks[0], disks[0]}), "InvalidParameterValue");
        check_code(with({disks[0], "disk-zzzzzzzz"}), "InvalidDiskId.NotFound");
        check_code(with({disks[0], other_disks[0]}), "InvalidParameterValue");  // two instances
        check_code(with({loose}), "InvalidParameterValue");                     // not attached

        SUBCASE("SnapshotAbility=false") {
            fs.set_snapshot_ability(disks[1], false);
            check_code(with({disks[0], disks[1]}), "InvalidDisk.NotSupported");
        }
        SUBCASE("migrating") {
            fs.set_migrating(disks[2], true);
            check_code(with({disks[0], disks[2]}), "ResourceInUse.DiskMigrating");
        }
        SUBCASE("rollbacking") {
            fs.set_rollbacking(disks[1], true);
            check_code(with({disks[1]}), "ResourceInUse.DiskRollbacking");
        }
        SUBCASE("set_disk_busy until a time") {
            fs.set_disk_busy(disks[1], t0 + 5s);
            check_code(with({disks[0], disks[1]}), "InvalidDisk.SnapshotCreating");
            ok(call(fs, "CreateSnapshotGroup", R"({"DiskIds":)" + ids_json({disks[0], disks[1]}) + "}", t0 + 5s));
        }
        SUBCASE("generated migrating/rollbacking disks are refused") {
            fleet_params p = small(400);
            p.migrating = 0.1;
            p.rollbacking = 0.1;
            fleet_state busy(p);
            bool saw_m = false, saw_r = false;
            for (const auto& i : busy.instance_ids())
                for (const auto& d : busy.disks_of(i)) {
                    auto res = call(busy, "CreateSnapshotGroup", R"({"DiskIds":[")" + d.disk_id + R"("]})");
                    if (d.migrating) {
                        check_code(res, "ResourceInUse.DiskMigrating");
                        saw_m = true;
                    } else if (d.rollbacking) {
                        check_code(res, "ResourceInUse.DiskRollbacking");
                        saw_r = true;
                    } else
                        ok(res);
                }
            CHECK(saw_m);
            CHECK(saw_r);
        }
        CHECK(fs.snapshot_count() == fs.groups().size() * 2);  // only the busy subcase creates (2 disks)
        CHECK(fs.disk(disks[0]).has_value());
        CHECK_FALSE(fs.disk("disk-zzzzzzzz").has_value());
        CHECK_THROWS_AS(fs.set_disk_busy("disk-zzzzzzzz", t0), std::invalid_argument);
    }

    TEST_CASE("CreateSnapshotGroup: snapshot quota") {
        fleet_params p = small();
        p.snapshot_quota = 3;
        fleet_state fs(p);
        auto [ins, disks] = instance_with(fs, 2);
        const auto g = create(fs, {disks[0], disks[1]}, "q");  // 2 of 3
        check_code(call(fs, "CreateSnapshotGroup", R"({"DiskIds":)" + ids_json({disks[2], disks[0]}) + "}", t0 + 10s),
                   "InsufficientSnapshotQuota");
        CHECK(fs.snapshot_count() == 2);
        ok(call(fs, "CreateSnapshotGroup", R"({"DiskIds":[")" + disks[2] + R"("]})", t0 + 10s));  // 3 of 3
        check_code(call(fs, "CreateSnapshotGroup", R"({"DiskIds":[")" + disks[0] + R"("]})", t0 + 10s),
                   "InsufficientSnapshotQuota");
        ok(call(fs, "DeleteSnapshotGroup", R"({"SnapshotGroupId":")" + g + "\"}", t0 + 10s));  // frees 2
        ok(call(fs, "CreateSnapshotGroup", R"({"DiskIds":[")" + disks[0] + R"("]})", t0 + 10s));
    }

    TEST_CASE("a group is CREATING with a rising Percent, then NORMAL; its disks are busy until then") {
        fleet_params p = small();  // creating_time 3 s
        p.system_now = [] { return std::chrono::system_clock::time_point{std::chrono::seconds{1717200000}}; };
        fleet_state fs(p);
        auto [ins, disks] = instance_with(fs, 2);
        const auto id = create(fs, {disks[0], disks[1]}, "run1-" + ins);
        CHECK(id_like(id, "csnap-"));

        auto g = describe_group(fs, id, t0);
        CHECK(g.at("SnapshotGroupState").as_string() == "CREATING");
        CHECK(g.at("Percent").to_number<int>() == 0);
        g = describe_group(fs, id, t0 + 1500ms);
        CHECK(g.at("SnapshotGroupState").as_string() == "CREATING");
        CHECK(g.at("Percent").to_number<int>() == 50);
        g = describe_group(fs, id, t0 + 2999ms);
        CHECK(g.at("Percent").to_number<int>() == 99);

        // Busy while CREATING: any group touching one of its disks is refused ...
        check_code(call(fs, "CreateSnapshotGroup", R"({"DiskIds":[")" + disks[1] + R"("]})", t0 + 2999ms),
                   "InvalidDisk.SnapshotCreating");
        // ... and it can't be deleted yet.
        check_code(call(fs, "DeleteSnapshotGroup", R"({"SnapshotGroupId":")" + id + "\"}", t0 + 2s),
                   "UnsupportedOperation.StateError");
        // A disk of the instance outside the group is free.
        ok(call(fs, "CreateSnapshotGroup", R"({"DiskIds":[")" + disks[2] + R"("]})", t0 + 1s));

        g = describe_group(fs, id, t0 + 3s);
        CHECK(g.at("SnapshotGroupState").as_string() == "NORMAL");
        CHECK(g.at("Percent").to_number<int>() == 100);
        CHECK(g.at("SnapshotGroupType").as_string() == "NORMAL");
        CHECK(g.at("ContainRootSnapshot").as_bool());  // disks[0] is the system disk
        CHECK(g.at("SnapshotIdSet").as_array().size() == 2);
        CHECK(g.at("Images").as_array().empty());
        CHECK(g.at("ImageCount").to_number<int>() == 0);
        CHECK(g.at("IsPermanent").as_bool());
        CHECK(g.at("DeadlineTime").is_null());
        CHECK(g.at("AutoSnapshotPolicyId").is_null());
        CHECK(g.at("SnapshotGroupName").as_string() == "run1-" + ins);
        // The first `now` stands for system_now() then, 2024-06-01 00:00:00 UTC, written in UTC+8.
        CHECK(g.at("CreateTime").as_string() == "2024-06-01 08:00:00");
        CHECK(g.at("ModifyTime").as_string() == "2024-06-01 08:00:03");

        auto views = fs.groups_of(ins);
        REQUIRE(views.size() == 2);
        CHECK(views[0].group_id == id);
        CHECK(views[0].state == "NORMAL");  // as of the latest now seen (t0 + 3 s)
        CHECK(views[0].percent == 100);
        CHECK(views[0].instance_id == ins);
        CHECK(fs.groups_of("ins-zzzzzzzz").empty());

        ok(call(fs, "CreateSnapshotGroup", R"({"DiskIds":[")" + disks[1] + R"("]})", t0 + 3s));
        // The disk's SnapshotCount follows its live snapshots.
        const auto& d = ok(call(fs, "DescribeDisks", R"({"DiskIds":[")" + disks[1] + R"("]})", t0 + 3s));
        CHECK(d.at("DiskSet").as_array()[0].at("SnapshotCount").to_number<int>() == 2);
    }

    TEST_CASE("creating_time 0 makes groups NORMAL at once") {
        fleet_params p = small();
        p.creating_time = 0ms;
        fleet_state fs(p);
        auto [ins, disks] = instance_with(fs, 0);
        const auto id = create(fs, {disks[0]}, "now");
        CHECK(describe_group(fs, id, t0).at("SnapshotGroupState").as_string() == "NORMAL");
        create(fs, {disks[0]}, "again");
    }

    TEST_CASE("member snapshots are named <group name>_N in DiskIds order") {
        fleet_state fs(small());
        auto [ins, disks] = instance_with(fs, 2);
        const std::vector<std::string> order{disks[2], disks[0], disks[1]};
        const auto id = create(fs, order, "nightly");
        const auto g = describe_group(fs, id, t0 + 1s);
        const auto& snap_ids = g.at("SnapshotIdSet").as_array();
        REQUIRE(snap_ids.size() == 3);
        const auto& r =
            ok(call(fs, "DescribeSnapshots", R"({"SnapshotIds":)" + json::serialize(snap_ids) + "}", t0 + 1s));
        CHECK(r.at("TotalCount").to_number<int>() == 3);
        const auto& set = r.at("SnapshotSet").as_array();
        for (std::size_t i = 0; i < 3; ++i) {
            const auto& s = set[i].as_object();
            CHECK(id_like(std::string(s.at("SnapshotId").as_string()), "snap-"));
            CHECK(s.at("SnapshotId") == snap_ids[i]);
            CHECK(s.at("SnapshotName").as_string() == "nightly_" + std::to_string(i));
            CHECK(s.at("DiskId").as_string() == order[i]);
            CHECK(s.at("SnapshotState").as_string() == "CREATING");
            CHECK(s.at("Percent").to_number<int>() == 33);
            CHECK(s.at("SnapshotType").as_string() == "PRIVATE_SNAPSHOT");
            CHECK(s.at("Encrypt").is_bool());
            CHECK(s.at("DiskSize").is_number());
            CHECK(time_like(std::string(s.at("CreateTime").as_string())));
        }
        CHECK(set[1].at("DiskUsage").as_string() == "SYSTEM_DISK");
        // Without a name the name stays empty (no placeholder that a look-up by name would find).
        auto [other, od] = instance_with(fs, 0);
        for (const auto& i : fs.instance_ids())
            if (i != ins) {
                od = {fs.disks_of(i)[0].disk_id};
                break;
            }
        const auto unnamed = ok(call(fs, "CreateSnapshotGroup", R"({"DiskIds":[")" + od[0] + R"("]})"));
        const auto ug = describe_group(fs, std::string(unnamed.at("SnapshotGroupId").as_string()), t0);
        CHECK(ug.at("SnapshotGroupName").as_string() == "");
        CHECK(fs.groups_named("Unnamed").empty());
        CHECK(fs.groups_named("").size() == 1);
    }

    TEST_CASE("DescribeSnapshotGroups: filters, duplicate names, pagination, limits") {
        fleet_state fs(small(80));
        const auto ins = fs.instance_ids();
        std::vector<std::string> ids;
        for (std::size_t i = 0; i < 30; ++i)
            ids.push_back(create(fs, {fs.disks_of(ins[i])[0].disk_id}, i < 2 ? "dup" : "g" + std::to_string(i),
                                 t0 + std::chrono::seconds(i)));
        const auto now = t0 + 30s;  // groups 0..27 NORMAL, 28 and 29 (ready at +31 s, +32 s) CREATING
        auto describe = [&](const std::string& body) { return call(fs, "DescribeSnapshotGroups", body, now); };

        SUBCASE("duplicate names are allowed and both found by name") {
            const auto& r = ok(describe(R"({"Filters":[{"Name":"snapshot-group-name","Values":["dup"]}]})"));
            CHECK(r.at("TotalCount").to_number<int>() == 2);
            CHECK(r.at("SnapshotGroupSet").as_array()[0].at("SnapshotGroupId").as_string() == ids[0]);
            CHECK(r.at("SnapshotGroupSet").as_array()[1].at("SnapshotGroupId").as_string() == ids[1]);
        }
        SUBCASE("state, evaluated at now") {
            const auto& c = ok(describe(R"({"Filters":[{"Name":"snapshot-group-state","Values":["CREATING"]}]})"));
            CHECK(c.at("TotalCount").to_number<int>() == 2);
            const auto& n = ok(describe(R"({"Filters":[{"Name":"snapshot-group-state","Values":["NORMAL"]}]})"));
            CHECK(n.at("TotalCount").to_number<int>() == 28);
        }
        SUBCASE("AND across filters, OR within Values") {
            const auto& r = ok(describe(R"({"Filters":[{"Name":"snapshot-group-id","Values":[")" + ids[3] + R"(",")" +
                                        ids[29] + R"("]},{"Name":"snapshot-group-state","Values":["NORMAL"]}]})"));
            CHECK(r.at("TotalCount").to_number<int>() == 1);
            CHECK(r.at("SnapshotGroupSet").as_array()[0].at("SnapshotGroupId").as_string() == ids[3]);
        }
        SUBCASE("by member snapshot id") {
            const auto g = describe_group(fs, ids[5], now);
            const auto snap = std::string(g.at("SnapshotIdSet").as_array()[0].as_string());
            const auto& r =
                ok(describe(R"({"Filters":[{"Name":"snapshot-id","Values":[")" + snap + R"(","snap-zzzzzzzz"]}]})"));
            CHECK(r.at("TotalCount").to_number<int>() == 1);
            CHECK(r.at("SnapshotGroupSet").as_array()[0].at("SnapshotGroupId").as_string() == ids[5]);
        }
        SUBCASE("pagination") {
            const auto& first = ok(describe("{}"));
            CHECK(first.at("TotalCount").to_number<int>() == 30);
            CHECK(first.at("SnapshotGroupSet").as_array().size() == 20);
            const auto& rest = ok(describe(R"({"Offset":20,"Limit":100})"));
            CHECK(rest.at("SnapshotGroupSet").as_array().size() == 10);
            CHECK(rest.at("SnapshotGroupSet").as_array()[0].at("SnapshotGroupId").as_string() == ids[20]);
            CHECK(ok(describe(R"({"Offset":30})")).at("SnapshotGroupSet").as_array().empty());
        }
        SUBCASE("errors") {
            check_code(describe(R"({"Limit":101})"), "InvalidParameter");
            check_code(describe(R"({"Limit":-1})"), "InvalidParameter");
            check_code(describe(R"({"Filters":[{"Name":"disk-id","Values":["x"]}]})"), "InvalidFilter");
            check_code(describe(R"({"Filters":[{"Name":"snapshot-group-state","Values":["DONE"]}]})"),
                       "InvalidParameter");
            check_code(describe(R"({"SnapshotGroupIds":["csnap-abcdefgh"]})"), "UnknownParameter");
        }
    }

    TEST_CASE("DeleteSnapshotGroup") {
        fleet_state fs(small());
        const auto ins = fs.instance_ids();
        const auto a = create(fs, {fs.disks_of(ins[0])[0].disk_id}, "a");
        const auto b = create(fs, {fs.disks_of(ins[1])[0].disk_id}, "b");
        const auto c = create(fs, {fs.disks_of(ins[2])[0].disk_id}, "c");
        const auto later = t0 + 10s;
        auto del = [&](const std::string& body) { return call(fs, "DeleteSnapshotGroup", body, later); };

        check_code(del("{}"), "MissingParameter");
        check_code(del(R"({"SnapshotGroupIds":[]})"), "MissingParameter");
        check_code(del(R"({"SnapshotGroupId":7})"), "InvalidParameter");
        check_code(del(R"({"SnapshotGroupId":"csnap-A"})"), "InvalidParameter");
        check_code(del(R"({"SnapshotGroupId":")" + a + R"(","DeleteBindImages":"yes"})"), "InvalidParameter");
        // One unknown id: nothing is deleted.
        check_code(del(R"({"SnapshotGroupIds":[")" + a + R"(","csnap-zzzzzzzz"]})"), "InvalidSnapshotId.NotFound");
        CHECK(fs.groups().size() == 3);
        CHECK(fs.snapshot_count() == 3);

        const auto snap_a = std::string(describe_group(fs, a, later).at("SnapshotIdSet").as_array()[0].as_string());
        // SnapshotGroupId and SnapshotGroupIds are merged.
        ok(del(R"({"SnapshotGroupId":")" + a + R"(","SnapshotGroupIds":[")" + b + R"(",")" + a +
               R"("],"DeleteBindImages":false})"));
        CHECK(fs.groups().size() == 1);
        CHECK(fs.groups()[0].group_id == c);
        CHECK(fs.snapshot_count() == 1);
        CHECK(ok(call(fs, "DescribeSnapshots", R"({"SnapshotIds":[")" + snap_a + R"("]})", later))
                  .at("TotalCount")
                  .to_number<int>() == 0);
        CHECK(ok(call(fs, "DescribeSnapshotGroups",
                      R"({"Filters":[{"Name":"snapshot-group-name","Values":["a","b"]}]})", later))
                  .at("TotalCount")
                  .to_number<int>() == 0);
        const auto& disk =
            ok(call(fs, "DescribeDisks", R"({"DiskIds":[")" + fs.disks_of(ins[0])[0].disk_id + R"("]})", later));
        CHECK(disk.at("DiskSet").as_array()[0].at("SnapshotCount").to_number<int>() == 0);
        check_code(del(R"({"SnapshotGroupId":")" + a + "\"}"), "InvalidSnapshotId.NotFound");
    }

    TEST_CASE("DescribeSnapshots: filters and errors") {
        fleet_state fs(small());
        auto [ins, disks] = instance_with(fs, 1);
        create(fs, {disks[0], disks[1]}, "s1");
        create(fs, {disks[0]}, "s2", t0 + 5s);
        const auto now = t0 + 6s;  // s1 NORMAL, s2 CREATING
        auto describe = [&](const std::string& body) { return call(fs, "DescribeSnapshots", body, now); };

        CHECK(ok(describe("{}")).at("TotalCount").to_number<int>() == 3);
        CHECK(ok(describe(R"({"Filters":[{"Name":"disk-id","Values":[")" + disks[0] + R"("]}]})"))
                  .at("TotalCount")
                  .to_number<int>() == 2);
        CHECK(ok(describe(R"({"Filters":[{"Name":"disk-id","Values":[")" + disks[0] +
                          R"("]},{"Name":"snapshot-state","Values":["CREATING"]}]})"))
                  .at("TotalCount")
                  .to_number<int>() == 1);
        const auto& named = ok(describe(R"({"Filters":[{"Name":"snapshot-name","Values":["s1_1"]}]})"));
        REQUIRE(named.at("TotalCount").to_number<int>() == 1);
        CHECK(named.at("SnapshotSet").as_array()[0].at("DiskId").as_string() == disks[1]);
        const auto& desc = ok(describe(R"({"Order":"DESC","Limit":1})"));
        CHECK(desc.at("SnapshotSet").as_array()[0].at("SnapshotName").as_string() == "s2_0");

        std::vector<std::string> eleven(11, disks[0]);
        check_code(describe(R"({"Filters":[{"Name":"disk-id","Values":)" + ids_json(eleven) + "}]}"),
                   "InvalidParameterValue");
        check_code(describe(R"({"SnapshotIds":["snap-abcdefgh"],"Filters":[{"Name":"snapshot-name","Values":["x"]}]})"),
                   "InvalidParameterValue");
        check_code(describe(R"({"SnapshotIds":["csnap-abcdefgh"]})"), "InvalidParameterValue");
        check_code(describe(R"({"Filters":[{"Name":"encrypt","Values":["TRUE"]}]})"), "InvalidFilter");
        check_code(describe(R"({"Filters":[{"Name":"snapshot-group-id","Values":["x"]}]})"), "InvalidFilter");
        check_code(describe(R"({"Filters":[{"Name":"snapshot-state","Values":["DONE"]}]})"), "InvalidParameterValue");
        check_code(describe(R"({"Limit":1000})"), "InvalidParameterValue");
    }

    TEST_CASE("actions") {
        fleet_state fs(small(5));
        for (auto a : {"DescribeDisks", "CreateSnapshotGroup", "DescribeSnapshotGroups", "DeleteSnapshotGroup",
                       "DescribeSnapshots"})
            CHECK(fleet_state::known_action(a));
        CHECK(fleet_state::known_action("ApplySnapshotGroup"));
        CHECK_FALSE(fleet_state::known_action("CreateSnapshot"));
        CHECK_FALSE(fleet_state::known_action("describedisks"));
        check_code(call(fs, "ModifySnapshotGroupAttribute", "{}"), "InvalidAction");

        fleet_params none;  // an empty fleet (the server uses one for other regions)
        none.instances = 0;
        none.unattached_disks = 0;
        fleet_state empty(none);
        CHECK(ok(call(empty, "DescribeDisks", "{}")).at("TotalCount").to_number<int>() == 0);
        CHECK(ok(call(empty, "DescribeSnapshotGroups", "{}")).at("SnapshotGroupSet").as_array().empty());
        const auto r = ok(call(fs, "DescribeDisks", "{}"));
        CHECK(r.at("TotalCount").is_int64());  // the same JSON kind a parsed response has
    }

    TEST_CASE("wall time follows set_time_origin") {
        fleet_state fs(small(5));
        fs.set_time_origin(
            t0, std::chrono::system_clock::time_point{std::chrono::seconds{1700000000}});  // 2023-11-14 22:13:20 UTC
        const auto id = create(fs, {fs.disks_of(fs.instance_ids()[0])[0].disk_id}, "t", t0 + 61s);
        CHECK(describe_group(fs, id, t0 + 61s).at("CreateTime").as_string() == "2023-11-15 06:14:21");
    }

    TEST_CASE("10,000-instance fleet: DescribeDisks by 100 instance ids stays fast") {
        fleet_params p;
        p.instances = 10000;
        const auto start = std::chrono::steady_clock::now();
        fleet_state fs(p);
        const auto ins = fs.instance_ids();
        std::size_t seen = 0;
        for (std::size_t i = 0; i < ins.size(); i += 100) {
            std::vector<std::string> batch(ins.begin() + static_cast<std::ptrdiff_t>(i),
                                           ins.begin() + static_cast<std::ptrdiff_t>(i + 100));
            const std::string f =
                R"({"Filters":[{"Name":"instance-id","Values":)" + ids_json(batch) + "}],\"Limit\":100";
            std::size_t total = 0;
            for (std::size_t off = 0;; off += 100) {
                const auto& r = ok(call(fs, "DescribeDisks", f + ",\"Offset\":" + std::to_string(off) + "}"));
                total = r.at("TotalCount").to_number<std::size_t>();
                seen += r.at("DiskSet").as_array().size();
                if (off + 100 >= total) break;
            }
        }
        std::size_t attached = 0;
        for (const auto& i : ins) attached += fs.disks_of(i).size();
        CHECK(seen == attached);
        const auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        MESSAGE("10k fleet build + full instance-id sweep: ", elapsed, " s");
        CHECK(elapsed < 20.0);  // generous: catches a linear scan per value (which takes minutes), not jitter
    }

}  // TEST_SUITE
