// DescribeDisks, DescribeSnapshotGroups, DeleteSnapshotGroup, DescribeSnapshots:
// wire JSON, validation, response parsing; batching helpers; the paging loop
// against an in-memory fake client (the same loop over TLS is in
// test/integration/test_paginate.cpp).
#include <cbs/describe_actions.hpp>
#include <cbs/paginate.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <doctest/doctest.h>

#include <functional>
#include <optional>
#include <string>

namespace asio = boost::asio;
namespace json = boost::json;
using cbs::client_errc;

namespace {

json::object response_of(std::string_view envelope) {
    return json::parse(envelope).at("Response").as_object();
}

template <class Req>
std::string invalid_message(const Req& req) {
    cbs::diagnostics diag;
    auto ec = validate(req, diag);
    CHECK(ec == client_errc::invalid_request);
    return diag.client_message;
}

template <class Req>
bool valid(const Req& req) {
    cbs::diagnostics diag;
    auto ec = validate(req, diag);
    if (ec) MESSAGE(diag.client_message);
    return !ec;
}

template <class Rsp>
std::string bad_response(std::string_view response_json) {
    Rsp out;
    cbs::diagnostics diag;
    auto ec = from_json(json::parse(response_json).as_object(), out, diag);
    CHECK(ec == client_errc::bad_response);
    return diag.client_message;
}

bool contains(const std::string& s, std::string_view part) {
    return s.find(part) != std::string::npos;
}

// DescribeDisks answer shaped like the documented example: many more fields
// than the client reads, and the nulls the service sends.
constexpr std::string_view disks_envelope = R"({"Response":{"TotalCount":2,"DiskSet":[
 {"DeleteWithInstance":true,"RenewFlag":"NOTIFY_AND_AUTO_RENEW","DiskType":"CLOUD_PREMIUM","DiskState":"ATTACHED",
  "SnapshotCount":3,"AutoRenewFlagError":false,"Rollbacking":false,"InstanceIdList":[],"Encrypt":false,
  "DiskName":"sys-web-1","BackupDisk":false,"Tags":[{"Key":"env","Value":"prod"},{"Key":"team","Value":null}],
  "InstanceId":"ins-mwk3e7cf","AttachMode":"PF","AutoSnapshotPolicyIds":null,"ThroughputPerformance":0,
  "Migrating":false,"DiskId":"disk-o0z6mf5z","SnapshotSize":0,
  "Placement":{"CageId":null,"ProjectId":0,"CdcName":null,"CdcId":null,"Zone":"ap-guangzhou-2","DedicatedClusterId":""},
  "DiskUsage":"SYSTEM_DISK","DiskChargeType":"PREPAID","Portable":false,"SnapshotAbility":true,"DeadlineError":false,
  "RollbackPercent":0,"DifferDaysOfDeadline":-1,"ReturnFailCode":0,"Shareable":false,"CreateTime":"2019-04-24 20:55:48",
  "DeadlineTime":"2019-05-24 20:55:48","DiskSize":50,"MigratePercent":0,"IsReturnable":false,"InstanceType":"CVM",
  "LastAttachInsId":null,"ErrorPrompt":null,"DiskBackupCount":0,"DiskBackupQuota":0,"BurstPerformance":false},
 {"DiskId":"disk-shared01","DiskName":null,"DiskUsage":"DATA_DISK","DiskType":"CLOUD_SSD","DiskState":"ATTACHED",
  "Attached":true,"InstanceId":"ins-aaaa1111","Shareable":true,"InstanceIdList":["ins-aaaa1111","ins-bbbb2222"],
  "SnapshotAbility":false,"Migrating":true,"MigratePercent":40,"Rollbacking":null,"DiskSize":200,
  "Placement":null,"Tags":null,"DeadlineTime":null,"CreateTime":"2024-01-02 03:04:05","SnapshotCount":0}],
 "RequestId":"b2b3f9a4-3c5e-4a0d-9e57-9c2f0e7b1d11"}})";

constexpr std::string_view groups_envelope = R"({"Response":{"TotalCount":1,"SnapshotGroupSet":[
 {"SnapshotGroupId":"csnap-oavcw09g","SnapshotGroupType":"NORMAL","ContainRootSnapshot":true,
  "SnapshotIdSet":["snap-3hbsu5rq","snap-8fj2k3lo"],"SnapshotGroupState":"CREATING","Percent":45,
  "CreateTime":"2023-06-01 10:00:00","ModifyTime":"2023-06-01 10:00:30",
  "Images":[{"ImageId":"img-1a2b3c4d","ImageName":"golden"}],"SnapshotGroupName":"fleet-ins-mwk3e7cf-run1",
  "ImageCount":1,"IsPermanent":true,"DeadlineTime":null,"AutoSnapshotPolicyId":null}],
 "RequestId":"c9f12982-0c74-4d7e-aaeb-dd965ff2c9dc"}})";

constexpr std::string_view snapshots_envelope = R"({"Response":{"TotalCount":1,"SnapshotSet":[
 {"SnapshotId":"snap-3hbsu5rq","Placement":{"Zone":"ap-guangzhou-2","ProjectId":0,"CdcId":null},"CopyingToRegions":[],
  "DiskUsage":"SYSTEM_DISK","DiskId":"disk-o0z6mf5z","DiskSize":50,"SnapshotState":"NORMAL",
  "SnapshotName":"fleet-ins-mwk3e7cf-run1_0","Percent":100,"CreateTime":"2023-06-01 10:00:00","DeadlineTime":null,
  "Encrypt":false,"IsPermanent":true,"CopyFromRemote":false,"Images":[],"ImageCount":0,
  "SnapshotType":"PRIVATE_SNAPSHOT","ShareReference":0,"TimeStartShare":null,"Tags":[]}],
 "RequestId":"0c4a1f7e-5b2d-4c8e-9f13-7a6b5c4d3e2f"}})";

}  // namespace

// --- wire JSON ----------------------------------------------------------------

TEST_CASE("DescribeDisks: wire JSON is exactly the API's") {
    cbs::describe_disks_request req;
    req.filters = {{"instance-id", {"ins-1"}}};
    req.limit = 100;
    CHECK(json::serialize(to_json(req)) ==
          R"({"Filters":[{"Name":"instance-id","Values":["ins-1"]}],"Limit":100,"Offset":0})");

    cbs::describe_disks_request by_id;
    by_id.disk_ids = {"disk-11112222", "disk-33334444"};
    by_id.offset = 40;
    by_id.order_field = "CREATE_TIME";
    by_id.order = "DESC";
    by_id.return_bind_auto_snapshot_policy = true;
    CHECK(
        json::serialize(to_json(by_id)) ==
        R"({"DiskIds":["disk-11112222","disk-33334444"],"Limit":20,"Offset":40,"OrderField":"CREATE_TIME","Order":"DESC","ReturnBindAutoSnapshotPolicy":true})");

    CHECK(json::serialize(to_json(cbs::describe_disks_request{})) == R"({"Limit":20,"Offset":0})");
    CHECK(cbs::describe_disks_request::action == "DescribeDisks");
}

TEST_CASE("DescribeSnapshotGroups, DeleteSnapshotGroup, DescribeSnapshots: wire JSON") {
    cbs::describe_snapshot_groups_request g;
    g.filters = {{"snapshot-group-name", {"fleet-ins-1-run1"}}, {"snapshot-group-state", {"NORMAL", "CREATING"}}};
    g.limit = 100;
    CHECK(
        json::serialize(to_json(g)) ==
        R"({"Filters":[{"Name":"snapshot-group-name","Values":["fleet-ins-1-run1"]},{"Name":"snapshot-group-state","Values":["NORMAL","CREATING"]}],"Limit":100,"Offset":0})");
    CHECK(cbs::describe_snapshot_groups_request::action == "DescribeSnapshotGroups");

    cbs::delete_snapshot_group_request d;
    d.snapshot_group_ids = {"csnap-oavcw09g"};
    CHECK(json::serialize(to_json(d)) == R"({"SnapshotGroupIds":["csnap-oavcw09g"]})");
    d.delete_bind_images = true;
    CHECK(json::serialize(to_json(d)) == R"({"SnapshotGroupIds":["csnap-oavcw09g"],"DeleteBindImages":true})");
    CHECK(cbs::delete_snapshot_group_request::action == "DeleteSnapshotGroup");

    cbs::describe_snapshots_request s;
    s.filters = {{"disk-id", {"disk-o0z6mf5z"}}};
    s.offset = 100;
    s.limit = 100;
    s.order_field = "DEADLINE";
    CHECK(
        json::serialize(to_json(s)) ==
        R"({"Filters":[{"Name":"disk-id","Values":["disk-o0z6mf5z"]}],"Limit":100,"Offset":100,"OrderField":"DEADLINE"})");
    cbs::describe_snapshots_request s2;
    s2.snapshot_ids = {"snap-3hbsu5rq"};
    CHECK(json::serialize(to_json(s2)) == R"({"SnapshotIds":["snap-3hbsu5rq"],"Limit":20,"Offset":0})");
    CHECK(cbs::describe_snapshots_request::action == "DescribeSnapshots");
}

// --- validation -------------------------------------------------------------

TEST_CASE("Describe*: Limit 1..100 and Offset >= 0") {
    cbs::describe_disks_request d;
    d.limit = 0;
    CHECK(invalid_message(d) == "DescribeDisks: Limit is 0 (must be 1..100)");
    d.limit = 101;
    CHECK(invalid_message(d) == "DescribeDisks: Limit is 101 (must be 1..100)");
    d.limit = 100;
    d.offset = -1;
    CHECK(invalid_message(d) == "DescribeDisks: Offset is -1 (must be >= 0)");
    d.offset = 0;
    CHECK(valid(d));
    d.limit = 1;
    CHECK(valid(d));

    cbs::describe_snapshot_groups_request g;
    g.limit = 500;
    CHECK(invalid_message(g) == "DescribeSnapshotGroups: Limit is 500 (must be 1..100)");
    g.limit = 20;
    g.offset = -5;
    CHECK(invalid_message(g) == "DescribeSnapshotGroups: Offset is -5 (must be >= 0)");

    cbs::describe_snapshots_request s;
    s.limit = -1;
    CHECK(invalid_message(s) == "DescribeSnapshots: Limit is -1 (must be 1..100)");
}

TEST_CASE("DescribeDisks: DiskIds xor Filters, well-formed ids, documented filters") {
    cbs::describe_disks_request both;
    both.disk_ids = {"disk-11112222"};
    both.filters = {{"instance-id", {"ins-1"}}};
    CHECK(contains(invalid_message(both), "DiskIds and Filters cannot be used together"));

    cbs::describe_disks_request bad;
    bad.disk_ids = {"disk-11112222", "disk-1"};
    CHECK(invalid_message(bad) ==
          "DescribeDisks: DiskIds has a malformed id 'disk-1' (expected disk- and 8 lower-case letters or digits)");
    bad.disk_ids = {"disk-11112222", "disk-11112222"};
    CHECK(invalid_message(bad) == "DescribeDisks: DiskIds lists 'disk-11112222' twice");

    cbs::describe_disks_request f;
    f.filters = {{"instance-id", {"ins-1"}}, {"instance", {"x"}}};
    auto m = invalid_message(f);
    CHECK(contains(m, "DescribeDisks: Filters[1] has an unknown Name 'instance'"));
    CHECK(contains(m, "instance-id"));  // lists the accepted names
    f.filters = {{"instance-id", {}}};
    CHECK(invalid_message(f) == "DescribeDisks: Filters[0] (instance-id) has no Values (at least one is required)");
    f.filters = {{"disk-state", {"ATTACHED", "BROKEN"}}};
    CHECK(contains(invalid_message(f), "Filters[0] (disk-state) has the value 'BROKEN' (expected one of UNATTACHED"));
    f.filters = {{"disk-usage", {"ROOT"}}};
    CHECK(contains(invalid_message(f), "(disk-usage) has the value 'ROOT'"));
    f.filters = {{"tag:", {"v"}}};
    CHECK(contains(invalid_message(f), "unknown Name 'tag:'"));

    cbs::describe_disks_request ok;
    ok.filters = {{"instance-id", {"ins-1", "ins-2"}},
                  {"disk-usage", {"DATA_DISK"}},
                  {"disk-state", {"ATTACHED"}},
                  {"tag:env", {"prod"}},
                  {"zone", {"ap-guangzhou-3"}},
                  {"disk-charge-type", {"PREPAID"}},
                  {"tag-key", {"env"}}};
    CHECK(valid(ok));

    cbs::describe_disks_request order;
    order.order_field = "SIZE";
    CHECK(invalid_message(order) == "DescribeDisks: OrderField is 'SIZE' (expected CREATE_TIME, DEADLINE)");
    order.order_field = "DEADLINE";
    order.order = "asc";
    CHECK(invalid_message(order) == "DescribeDisks: Order is 'asc' (expected ASC, DESC)");
}

TEST_CASE("DescribeSnapshotGroups: only the four documented filters") {
    cbs::describe_snapshot_groups_request g;
    g.filters = {{"snapshot-group-id", {"csnap-oavcw09g"}},
                 {"snapshot-group-name", {"n"}},
                 {"snapshot-group-state", {"NORMAL"}},
                 {"snapshot-id", {"snap-3hbsu5rq"}}};
    CHECK(valid(g));
    g.filters = {{"instance-id", {"ins-1"}}};
    CHECK(invalid_message(g) ==
          "DescribeSnapshotGroups: Filters[0] has an unknown Name 'instance-id' (DescribeSnapshotGroups accepts "
          "snapshot-group-id, snapshot-group-name, snapshot-group-state, snapshot-id)");
    g.filters = {{"snapshot-group-state", {"DONE"}}};
    CHECK(contains(invalid_message(g),
                   "(snapshot-group-state) has the value 'DONE' (expected one of NORMAL, CREATING, ROLLBACKING)"));
}

TEST_CASE("DeleteSnapshotGroup: at least one id, each csnap-xxxxxxxx, distinct") {
    cbs::delete_snapshot_group_request d;
    CHECK(invalid_message(d) == "DeleteSnapshotGroup: SnapshotGroupIds is empty (at least one group id is required)");
    d.snapshot_group_ids = {"snap-3hbsu5rq"};
    CHECK(invalid_message(d) ==
          "DeleteSnapshotGroup: SnapshotGroupIds has a malformed id 'snap-3hbsu5rq' "
          "(expected csnap- and 8 lower-case letters or digits)");
    d.snapshot_group_ids = {"csnap-OAVCW09G"};
    CHECK(contains(invalid_message(d), "malformed id 'csnap-OAVCW09G'"));
    d.snapshot_group_ids = {"csnap-oavcw09g", "csnap-oavcw09g"};
    CHECK(invalid_message(d) == "DeleteSnapshotGroup: SnapshotGroupIds lists 'csnap-oavcw09g' twice");
    d.snapshot_group_ids = {"csnap-oavcw09g", "csnap-12345678"};
    CHECK(valid(d));

    CHECK(cbs::is_valid_snapshot_group_id("csnap-oavcw09g"));
    CHECK_FALSE(cbs::is_valid_snapshot_group_id("csnap-oavcw09"));
    CHECK_FALSE(cbs::is_valid_snapshot_group_id("csnap-oavcw09gg"));
    CHECK_FALSE(cbs::is_valid_snapshot_group_id(""));
    CHECK(cbs::is_valid_snapshot_id("snap-3hbsu5rq"));
    CHECK_FALSE(cbs::is_valid_snapshot_id("csnap-3hbsu5rq"));
}

TEST_CASE("DescribeSnapshots: SnapshotIds xor Filters, documented filters, disk-id at most 10") {
    cbs::describe_snapshots_request s;
    s.snapshot_ids = {"snap-3hbsu5rq"};
    s.filters = {{"snapshot-state", {"NORMAL"}}};
    CHECK(contains(invalid_message(s), "DescribeSnapshots: SnapshotIds and Filters cannot be used together"));
    s.filters.clear();
    s.snapshot_ids = {"snap-1"};
    CHECK(contains(invalid_message(s), "SnapshotIds has a malformed id 'snap-1'"));

    cbs::describe_snapshots_request f;
    f.filters = {{"disk-id", {}}};
    for (int i = 0; i < 11; ++i) f.filters[0].values.push_back("disk-0000000" + std::to_string(i % 10));
    CHECK(invalid_message(f) == "DescribeSnapshots: Filters[0] (disk-id) has 11 Values (at most 10)");
    f.filters[0].values.pop_back();
    CHECK(valid(f));
    f.filters = {{"snapshot-state", {"COPYING_FROM_REMOTE"}},
                 {"snapshot-type", {"SHARED_SNAPSHOT"}},
                 {"encrypt", {"TRUE"}},
                 {"snapshot-name", {"x"}}};
    CHECK(valid(f));
    f.filters = {{"snapshot-group-id", {"csnap-oavcw09g"}}};
    CHECK(contains(invalid_message(f), "unknown Name 'snapshot-group-id'"));
}

// --- responses ----------------------------------------------------------------

TEST_CASE("DescribeDisks: a realistic answer, nulls and unknown fields included") {
    cbs::describe_disks_response out;
    cbs::diagnostics diag;
    REQUIRE_FALSE(from_json(response_of(disks_envelope), out, diag));
    CHECK(out.total_count == 2);
    CHECK(out.request_id == "b2b3f9a4-3c5e-4a0d-9e57-9c2f0e7b1d11");
    REQUIRE(out.disk_set.size() == 2);
    const auto& a = out.disk_set[0];
    CHECK(a.disk_id == "disk-o0z6mf5z");
    CHECK(a.disk_name == "sys-web-1");
    CHECK(a.disk_usage == "SYSTEM_DISK");
    CHECK(a.disk_type == "CLOUD_PREMIUM");
    CHECK(a.disk_state == "ATTACHED");
    CHECK(a.disk_charge_type == "PREPAID");
    CHECK(a.disk_size == 50);
    CHECK_FALSE(a.attached);  // not in the documented example: default
    CHECK(a.instance_id == "ins-mwk3e7cf");
    CHECK(a.instance_type == "CVM");
    CHECK(a.snapshot_ability);
    CHECK_FALSE(a.migrating);
    CHECK_FALSE(a.rollbacking);
    CHECK_FALSE(a.shareable);
    CHECK(a.instance_id_list.empty());
    CHECK(a.zone == "ap-guangzhou-2");
    CHECK(a.project_id == 0);
    CHECK(a.snapshot_count == 3);
    CHECK(a.create_time == "2019-04-24 20:55:48");
    CHECK(a.deadline_time == "2019-05-24 20:55:48");
    REQUIRE(a.tags.size() == 2);
    CHECK(a.tags[0].key == "env");
    CHECK(a.tags[0].value == "prod");
    CHECK(a.tags[1].key == "team");
    CHECK(a.tags[1].value.empty());  // null value

    const auto& b = out.disk_set[1];
    CHECK(b.disk_id == "disk-shared01");
    CHECK(b.disk_name.empty());
    CHECK(b.attached);
    CHECK(b.shareable);
    CHECK(b.instance_id_list == std::vector<std::string>{"ins-aaaa1111", "ins-bbbb2222"});
    CHECK_FALSE(b.snapshot_ability);
    CHECK(b.migrating);
    CHECK(b.migrate_percent == 40);
    CHECK_FALSE(b.rollbacking);
    CHECK(b.zone.empty());
    CHECK(b.tags.empty());
    CHECK(b.deadline_time.empty());
    CHECK(b.disk_size == 200);
}

TEST_CASE("DescribeSnapshotGroups and DescribeSnapshots: realistic answers") {
    cbs::describe_snapshot_groups_response g;
    cbs::diagnostics diag;
    REQUIRE_FALSE(from_json(response_of(groups_envelope), g, diag));
    CHECK(g.total_count == 1);
    CHECK(g.request_id == "c9f12982-0c74-4d7e-aaeb-dd965ff2c9dc");
    REQUIRE(g.snapshot_group_set.size() == 1);
    const auto& x = g.snapshot_group_set[0];
    CHECK(x.snapshot_group_id == "csnap-oavcw09g");
    CHECK(x.name == "fleet-ins-mwk3e7cf-run1");
    CHECK(x.type == "NORMAL");
    CHECK(x.state == "CREATING");
    CHECK(x.percent == 45);
    CHECK(x.contain_root_snapshot);
    CHECK(x.snapshot_ids == std::vector<std::string>{"snap-3hbsu5rq", "snap-8fj2k3lo"});
    CHECK(x.create_time == "2023-06-01 10:00:00");
    CHECK(x.modify_time == "2023-06-01 10:00:30");
    REQUIRE(x.images.size() == 1);
    CHECK(x.images[0].image_id == "img-1a2b3c4d");
    CHECK(x.images[0].image_name == "golden");
    CHECK(x.image_count == 1);
    CHECK(x.is_permanent);
    CHECK(x.deadline_time.empty());
    CHECK(x.auto_snapshot_policy_id.empty());

    cbs::describe_snapshots_response s;
    REQUIRE_FALSE(from_json(response_of(snapshots_envelope), s, diag));
    CHECK(s.total_count == 1);
    REQUIRE(s.snapshot_set.size() == 1);
    const auto& y = s.snapshot_set[0];
    CHECK(y.snapshot_id == "snap-3hbsu5rq");
    CHECK(y.name == "fleet-ins-mwk3e7cf-run1_0");
    CHECK(y.state == "NORMAL");
    CHECK(y.percent == 100);
    CHECK(y.disk_id == "disk-o0z6mf5z");
    CHECK(y.disk_usage == "SYSTEM_DISK");
    CHECK(y.disk_size == 50);
    CHECK(y.create_time == "2023-06-01 10:00:00");
    CHECK(y.snapshot_type == "PRIVATE_SNAPSHOT");
    CHECK(y.is_permanent);
    CHECK(y.zone == "ap-guangzhou-2");

    cbs::delete_snapshot_group_response d;
    REQUIRE_FALSE(from_json(response_of(R"({"Response":{"RequestId":"del-1"}})"), d, diag));
    CHECK(d.request_id == "del-1");
}

TEST_CASE("Describe* responses: empty pages; a null set reads as empty") {
    cbs::describe_disks_response d;
    cbs::diagnostics diag;
    REQUIRE_FALSE(from_json(response_of(R"({"Response":{"TotalCount":0,"DiskSet":[],"RequestId":"r"}})"), d, diag));
    CHECK(d.total_count == 0);
    CHECK(d.disk_set.empty());
    cbs::describe_snapshot_groups_response g;
    REQUIRE_FALSE(
        from_json(response_of(R"({"Response":{"TotalCount":0,"SnapshotGroupSet":null,"RequestId":"r"}})"), g, diag));
    CHECK(g.snapshot_group_set.empty());
    // A total as a double (12.0) is accepted.
    REQUIRE_FALSE(from_json(response_of(R"({"Response":{"TotalCount":12.0,"DiskSet":[],"RequestId":"r"}})"), d, diag));
    CHECK(d.total_count == 12);
}

TEST_CASE("Describe* responses: missing required fields and wrong types are bad_response, named") {
    using disks = cbs::describe_disks_response;
    using groups = cbs::describe_snapshot_groups_response;
    using snaps = cbs::describe_snapshots_response;
    CHECK(bad_response<disks>(R"({"DiskSet":[],"RequestId":"r"})") == "DescribeDisks response: TotalCount is missing");
    CHECK(bad_response<disks>(R"({"TotalCount":null,"DiskSet":[],"RequestId":"r"})") ==
          "DescribeDisks response: TotalCount is missing");
    CHECK(bad_response<disks>(R"({"TotalCount":1,"RequestId":"r"})") == "DescribeDisks response: DiskSet is missing");
    CHECK(bad_response<groups>(R"({"TotalCount":1,"RequestId":"r"})") ==
          "DescribeSnapshotGroups response: SnapshotGroupSet is missing");
    CHECK(bad_response<snaps>(R"({"TotalCount":1,"RequestId":"r"})") ==
          "DescribeSnapshots response: SnapshotSet is missing");
    CHECK(bad_response<disks>(R"({"TotalCount":"3","DiskSet":[]})") ==
          "DescribeDisks response: TotalCount is a string, expected an integer");
    CHECK(bad_response<disks>(R"({"TotalCount":-1,"DiskSet":[]})") ==
          "DescribeDisks response: TotalCount is -1, expected >= 0");
    CHECK(bad_response<disks>(R"({"TotalCount":1,"DiskSet":{}})") ==
          "DescribeDisks response: DiskSet is an object, expected an array");
    CHECK(bad_response<disks>(R"({"TotalCount":1,"DiskSet":[1]})") ==
          "DescribeDisks response: DiskSet[0] is an integer, expected an object");
    CHECK(bad_response<disks>(R"({"TotalCount":2,"DiskSet":[{"DiskId":"disk-11112222"},{"DiskName":"x"}]})") ==
          "DescribeDisks response: DiskSet[1].DiskId is missing");
    CHECK(bad_response<disks>(R"({"TotalCount":1,"DiskSet":[{"DiskId":"disk-11112222","SnapshotAbility":"true"}]})") ==
          "DescribeDisks response: DiskSet[0].SnapshotAbility is a string, expected a bool");
    CHECK(bad_response<disks>(R"({"TotalCount":1,"DiskSet":[{"DiskId":"disk-11112222","Placement":{"Zone":3}}]})") ==
          "DescribeDisks response: DiskSet[0].Placement.Zone is an integer, expected a string");
    CHECK(
        bad_response<disks>(R"({"TotalCount":1,"DiskSet":[{"DiskId":"disk-11112222","InstanceIdList":["a",null]}]})") ==
        "DescribeDisks response: DiskSet[0].InstanceIdList[1] is null, expected a string");
    CHECK(bad_response<groups>(R"({"TotalCount":1,"SnapshotGroupSet":[{"SnapshotGroupId":""}]})") ==
          "DescribeSnapshotGroups response: SnapshotGroupSet[0].SnapshotGroupId is missing");
    CHECK(bad_response<groups>(
              R"({"TotalCount":1,"SnapshotGroupSet":[{"SnapshotGroupId":"csnap-oavcw09g","Percent":"45"}]})") ==
          "DescribeSnapshotGroups response: SnapshotGroupSet[0].Percent is a string, expected an integer");
    CHECK(bad_response<snaps>(R"({"TotalCount":1,"SnapshotSet":[{"SnapshotId":"snap-3hbsu5rq","DiskSize":-5}]})") ==
          "DescribeSnapshots response: SnapshotSet[0].DiskSize is -5, expected >= 0");
}

// --- batching ---------------------------------------------------------------

TEST_CASE("disks_by_instance_batches: chunks of per_call ids, Limit 100, in order") {
    std::vector<std::string> ids;
    for (int i = 0; i < 250; ++i) ids.push_back("ins-" + std::to_string(10000000 + i));
    auto b = cbs::disks_by_instance_batches(ids);
    REQUIRE(b.size() == 3);
    CHECK(b[0].filters.size() == 1);
    CHECK(b[0].filters[0].name == "instance-id");
    CHECK(b[0].filters[0].values.size() == 100);
    CHECK(b[1].filters[0].values.size() == 100);
    CHECK(b[2].filters[0].values.size() == 50);
    CHECK(b[0].filters[0].values.front() == "ins-10000000");
    CHECK(b[2].filters[0].values.back() == "ins-10000249");
    for (const auto& r : b) {
        CHECK(r.limit == 100);
        CHECK(r.offset == 0);
        CHECK(r.disk_ids.empty());
        CHECK(valid(r));
    }
    CHECK(cbs::disks_by_instance_batches(std::span<const std::string>{}).empty());
    CHECK(cbs::disks_by_instance_batches(ids, 7).size() == 36);  // ceil(250/7)
    CHECK(cbs::disks_by_instance_batches(ids, 0).size() == 3);   // 0: the default 100
    auto one = cbs::disks_by_instance_batches(std::span<const std::string>(ids).first(1));
    REQUIRE(one.size() == 1);
    CHECK(json::serialize(to_json(one[0])) ==
          R"({"Filters":[{"Name":"instance-id","Values":["ins-10000000"]}],"Limit":100,"Offset":0})");
}

TEST_CASE("snapshot_groups_by_id_batches: 10,000 groups poll in 100 calls") {
    std::vector<std::string> ids;
    for (int i = 0; i < 10000; ++i) ids.push_back("csnap-" + std::to_string(10000000 + i));
    auto b = cbs::snapshot_groups_by_id_batches(ids);
    REQUIRE(b.size() == 100);
    std::size_t total = 0;
    for (const auto& r : b) {
        REQUIRE(r.filters.size() == 1);
        CHECK(r.filters[0].name == "snapshot-group-id");
        CHECK(r.limit == 100);
        total += r.filters[0].values.size();
    }
    CHECK(total == 10000);
    CHECK(b[99].filters[0].values.back() == "csnap-10009999");
    CHECK(cbs::snapshot_groups_by_id_batches(ids, 30).front().filters[0].values.size() == 30);
    CHECK(valid(b[0]));
}

// --- the paging loop, against a fake client ----------------------------------

namespace {

/// Serves `items` disks / groups from memory like the service would, with
/// knobs for misbehaving servers. Validates and renders JSON like the client.
struct fake_client {
    std::size_t items = 0;
    std::int64_t reported_total = -1;  ///< -1: the true count
    bool ignore_offset = false;
    int fail_on_call = -1;            ///< 0-based call that fails
    std::vector<std::string> bodies;  ///< wire bodies sent

    template <class Req>
    asio::awaitable<cbs::result<typename Req::response_type>> async_invoke(Req req, cbs::call_options,
                                                                           cbs::as_result_t) {
        cbs::result<typename Req::response_type> out;
        if ((out.ec = validate(req, out.diag))) co_return out;
        const int call = static_cast<int>(bodies.size());
        bodies.push_back(json::serialize(to_json(req)));
        out.diag.attempts = 1;
        out.diag.request_id = "req-" + std::to_string(call);
        out.diag.request_ids.push_back(out.diag.request_id);
        if (call == fail_on_call) {
            out.ec = cbs::api_errc::unrecognized;
            out.diag.server_code = "InternalError";
            co_return out;
        }
        out.value.total_count = reported_total < 0 ? items : static_cast<std::uint64_t>(reported_total);
        const std::size_t from = ignore_offset ? 0 : static_cast<std::size_t>(req.offset);
        for (std::size_t i = from; i < items && i < from + static_cast<std::size_t>(req.limit); ++i) {
            const std::string id = std::to_string(10000000 + i);
            if constexpr (std::is_same_v<Req, cbs::describe_disks_request>)
                out.value.disk_set.push_back(cbs::disk{.disk_id = "disk-" + id});
            else
                out.value.snapshot_group_set.push_back(cbs::snapshot_group{.snapshot_group_id = "csnap-" + id});
        }
        co_return out;
    }
};

template <class T>
T run_sync(asio::awaitable<T> aw) {
    asio::io_context io;
    std::optional<T> out;
    asio::co_spawn(io, std::move(aw), [&](std::exception_ptr e, T v) {
        if (e) std::rethrow_exception(e);
        out = std::move(v);
    });
    io.run();
    REQUIRE(out.has_value());
    return std::move(*out);
}

cbs::describe_disks_request instance_filter() {
    cbs::describe_disks_request r;
    r.filters = {{"instance-id", {"ins-1"}}};
    return r;
}

}  // namespace

TEST_CASE("async_describe_all_disks (fake): pages by 100 until TotalCount, keeps every RequestId") {
    fake_client c;
    c.items = 250;
    auto r = run_sync(cbs::async_describe_all_disks(c, instance_filter(), cbs::as_result));
    REQUIRE_FALSE(r.ec);
    CHECK(r.value.size() == 250);
    CHECK(r.value.front().disk_id == "disk-10000000");
    CHECK(r.value.back().disk_id == "disk-10000249");
    REQUIRE(c.bodies.size() == 3);
    CHECK(c.bodies[0] == R"({"Filters":[{"Name":"instance-id","Values":["ins-1"]}],"Limit":100,"Offset":0})");
    CHECK(c.bodies[1] == R"({"Filters":[{"Name":"instance-id","Values":["ins-1"]}],"Limit":100,"Offset":100})");
    CHECK(c.bodies[2] == R"({"Filters":[{"Name":"instance-id","Values":["ins-1"]}],"Limit":100,"Offset":200})");
    CHECK(r.diag.attempts == 3);
    CHECK(r.diag.request_ids == std::vector<std::string>{"req-0", "req-1", "req-2"});
    CHECK(r.diag.request_id == "req-2");

    fake_client exact;
    exact.items = 100;  // exactly one full page: no second call
    auto r2 = run_sync(
        cbs::async_describe_all_snapshot_groups(exact, cbs::describe_snapshot_groups_request{}, cbs::as_result));
    CHECK(r2.value.size() == 100);
    CHECK(exact.bodies.size() == 1);

    fake_client none;
    auto r3 = run_sync(cbs::async_describe_all_disks(none, instance_filter(), cbs::as_result));
    REQUIRE_FALSE(r3.ec);
    CHECK(r3.value.empty());
    CHECK(none.bodies.size() == 1);
}

TEST_CASE("async_describe_all_* (fake): inconsistent servers and failures end the loop") {
    fake_client liar;  // claims 1,000,000 but has 150: stops at the first empty page
    liar.items = 150;
    liar.reported_total = 1'000'000;
    auto r = run_sync(cbs::async_describe_all_disks(liar, instance_filter(), cbs::as_result));
    REQUIRE_FALSE(r.ec);
    CHECK(r.value.size() == 150);
    CHECK(liar.bodies.size() == 3);

    fake_client deaf;  // ignores Offset: the second page repeats the first, stop
    deaf.items = 500;
    deaf.ignore_offset = true;
    auto r2 = run_sync(
        cbs::async_describe_all_snapshot_groups(deaf, cbs::describe_snapshot_groups_request{}, cbs::as_result));
    REQUIRE_FALSE(r2.ec);
    CHECK(r2.value.size() == 100);
    CHECK(deaf.bodies.size() == 2);

    fake_client failing;
    failing.items = 300;
    failing.fail_on_call = 1;
    auto r3 = run_sync(cbs::async_describe_all_disks(failing, instance_filter(), cbs::as_result));
    CHECK(r3.ec == cbs::api_errc::unrecognized);
    CHECK(r3.diag.server_code == "InternalError");
    CHECK(r3.value.empty());
    CHECK(r3.diag.request_ids == std::vector<std::string>{"req-0", "req-1"});
    CHECK(r3.diag.attempts == 2);

    fake_client unused;  // invalid base request: nothing sent
    cbs::describe_disks_request bad;
    bad.offset = -1;
    auto r4 = run_sync(cbs::async_describe_all_disks(unused, bad, cbs::as_result));
    CHECK(r4.ec == client_errc::invalid_request);
    CHECK(unused.bodies.empty());

    fake_client throwing;  // the throwing form
    throwing.items = 10;
    throwing.fail_on_call = 0;
    CHECK_THROWS_AS(run_sync(cbs::async_describe_all_disks(throwing, instance_filter())), cbs::error);
}
