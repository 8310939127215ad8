// ApplySnapshotGroup (rollback): wire JSON, validation, response parsing, as
// test_describe_actions.cpp does for the other typed actions.
#include <cbs/describe_actions.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <doctest/doctest.h>

#include <string>

namespace json = boost::json;

namespace {

std::string invalid_message(const cbs::apply_snapshot_group_request& req) {
    cbs::diagnostics diag;
    CHECK(validate(req, diag) == cbs::client_errc::invalid_request);
    return diag.client_message;
}

cbs::apply_snapshot_group_request two_disks() {
    cbs::apply_snapshot_group_request r;
    r.snapshot_group_id = "csnap-oavcw09g";
    r.apply_disks = {{"snap-3hbsu5rq", "disk-lt8ajfvk"}, {"snap-9k2jd8sl", "disk-1ly0wu8c"}};
    return r;
}

}  // namespace

TEST_CASE("ApplySnapshotGroup: wire JSON is exactly the API's") {
    auto r = two_disks();
    CHECK(cbs::apply_snapshot_group_request::action == "ApplySnapshotGroup");
    cbs::diagnostics diag;
    CHECK_FALSE(validate(r, diag));
    CHECK(
        json::serialize(to_json(r)) ==
        R"({"SnapshotGroupId":"csnap-oavcw09g","ApplyDisks":[{"SnapshotId":"snap-3hbsu5rq","DiskId":"disk-lt8ajfvk"},{"SnapshotId":"snap-9k2jd8sl","DiskId":"disk-1ly0wu8c"}]})");
    r.auto_stop_instance = true;
    r.auto_start_instance = true;
    CHECK(
        json::serialize(to_json(r)) ==
        R"({"SnapshotGroupId":"csnap-oavcw09g","ApplyDisks":[{"SnapshotId":"snap-3hbsu5rq","DiskId":"disk-lt8ajfvk"},{"SnapshotId":"snap-9k2jd8sl","DiskId":"disk-1ly0wu8c"}],"AutoStopInstance":true,"AutoStartInstance":true})");
}

TEST_CASE("ApplySnapshotGroup: a well-formed group, 1+ pairs of well-formed ids, each disk once") {
    auto r = two_disks();
    r.snapshot_group_id.clear();
    CHECK(invalid_message(r) == "ApplySnapshotGroup: SnapshotGroupId is empty (the group to roll back is required)");
    r.snapshot_group_id = "snap-3hbsu5rq";
    CHECK(invalid_message(r) ==
          "ApplySnapshotGroup: SnapshotGroupId has a malformed id 'snap-3hbsu5rq' (expected "
          "csnap- and 8 lower-case letters or digits)");
    r = two_disks();
    r.apply_disks.clear();
    CHECK(invalid_message(r) ==
          "ApplySnapshotGroup: ApplyDisks is empty (at least one {SnapshotId, DiskId} is required)");
    r = two_disks();
    r.apply_disks[1].snapshot_id = "csnap-oavcw09g";
    CHECK(invalid_message(r) ==
          "ApplySnapshotGroup: ApplyDisks[1] has a malformed SnapshotId 'csnap-oavcw09g' "
          "(expected snap- and 8 lower-case letters or digits)");
    r = two_disks();
    r.apply_disks[0].disk_id = "disk-LT8AJFVK";
    CHECK(invalid_message(r) ==
          "ApplySnapshotGroup: ApplyDisks[0] has a malformed DiskId 'disk-LT8AJFVK' "
          "(expected disk- and 8 lower-case letters or digits)");
    r = two_disks();
    r.apply_disks[1].disk_id = r.apply_disks[0].disk_id;
    CHECK(invalid_message(r) ==
          "ApplySnapshotGroup: ApplyDisks[1] lists the disk 'disk-lt8ajfvk' a second time (each disk once)");
}

TEST_CASE("ApplySnapshotGroup: the response is a RequestId; a wrong type is a bad response naming it") {
    cbs::apply_snapshot_group_response out;
    cbs::diagnostics diag;
    CHECK_FALSE(from_json(json::parse(R"({"RequestId":"c9f12982-aaaa"})").as_object(), out, diag));
    CHECK(out.request_id == "c9f12982-aaaa");
    CHECK(from_json(json::parse(R"({"RequestId":7})").as_object(), out, diag) == cbs::client_errc::bad_response);
    CHECK(diag.client_message == "ApplySnapshotGroup response: RequestId is an integer, expected a string");
}
