// Retention planning (cbs::plan_retention): each rule of retention.hpp by
// name, ties, both options together, the newest group's protection, names
// that are not a fleet's and other prefixes; CreateTime parsing.
#include <cbs/retention.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

using cbs::retention_reason;

namespace {

constexpr std::int64_t day = 86400;
constexpr std::int64_t now = 1'800'000'000;

cbs::retention_group group(std::string id, std::string name, std::int64_t age_days, std::string state = "NORMAL") {
    cbs::retention_group g;
    g.id = std::move(id);
    g.name = std::move(name);
    g.state = std::move(state);
    g.created = now - age_days * day;
    return g;
}

/// The reason given for group `id`.
retention_reason reason_of(const cbs::retention_plan& p, const std::string& id) {
    for (const auto& s : p.series)
        for (const auto* list : {&s.kept, &s.deleted})
            for (const auto& d : *list)
                if (d.group.id == id) return d.reason;
    for (const auto& d : p.untouched)
        if (d.group.id == id) return d.reason;
    FAIL("group " << id << " is not in the plan");
    return {};
}

std::vector<std::string> deleted_ids(const cbs::retention_plan& p) {
    std::vector<std::string> out;
    for (const auto& d : p.deletions()) out.push_back(d.group.id);
    return out;
}

cbs::retention_options keep(std::size_t n) {
    cbs::retention_options o;
    o.keep_last = n;
    o.now = now;
    return o;
}

cbs::retention_options older(std::int64_t days) {
    cbs::retention_options o;
    o.older_than = std::chrono::seconds(days * day);
    o.now = now;
    return o;
}

// Instance a: four NORMAL groups, 1..4 days old; instance b: one.
std::vector<cbs::retention_group> fleet() {
    return {group("csnap-a0000001", "fleet-ins-aaaaaaaa-r1", 4), group("csnap-a0000002", "fleet-ins-aaaaaaaa-r2", 3),
            group("csnap-a0000003", "fleet-ins-aaaaaaaa-r3", 2), group("csnap-a0000004", "fleet-ins-aaaaaaaa-r4", 1),
            group("csnap-b0000001", "fleet-ins-bbbbbbbb-r1", 4)};
}

}  // namespace

TEST_CASE("retention R6/R9: --keep-last keeps the newest N NORMAL groups of each instance") {
    auto p = cbs::plan_retention(fleet(), keep(2));
    CHECK(deleted_ids(p) == std::vector<std::string>{"csnap-a0000001", "csnap-a0000002"});  // oldest first
    CHECK(reason_of(p, "csnap-a0000004") == retention_reason::newest_n);
    CHECK(reason_of(p, "csnap-a0000003") == retention_reason::newest_n);
    CHECK(reason_of(p, "csnap-a0000001") == retention_reason::beyond_keep_last);
    CHECK(reason_of(p, "csnap-b0000001") == retention_reason::newest_n);
    CHECK(p.listed == 5);
    CHECK(p.to_delete == 2);
    CHECK(p.kept == 3);
    REQUIRE(p.series.size() == 2);
    CHECK(p.series[0].instance_id == "ins-aaaaaaaa");
    CHECK(p.series[0].kept.front().group.id == "csnap-a0000004");  // newest first
}

TEST_CASE("retention R7/R9: --older-than deletes groups older than the age, never the newest (R8)") {
    auto p = cbs::plan_retention(fleet(), older(2));  // 2 days: 3 and 4 days old go
    CHECK(deleted_ids(p) == std::vector<std::string>{"csnap-a0000001", "csnap-a0000002"});
    CHECK(reason_of(p, "csnap-a0000003") == retention_reason::younger);  // exactly 2 days: not older
    CHECK(reason_of(p, "csnap-a0000001") == retention_reason::older_than);
    // b's only group is 4 days old, but it is the newest of its instance.
    CHECK(reason_of(p, "csnap-b0000001") == retention_reason::newest_protected);

    auto all_old = older(1);
    all_old.now = now + 10 * day;
    p = cbs::plan_retention(fleet(), all_old);
    CHECK(reason_of(p, "csnap-a0000004") == retention_reason::newest_protected);
    CHECK(p.to_delete == 3);
}

TEST_CASE("retention: both options delete only outside the newest N AND older than the age") {
    auto o = keep(1);
    o.older_than = std::chrono::seconds(3 * day);
    auto p = cbs::plan_retention(fleet(), o);
    CHECK(deleted_ids(p) == std::vector<std::string>{"csnap-a0000001"});
    CHECK(reason_of(p, "csnap-a0000001") == retention_reason::beyond_keep_last_and_older);
    CHECK(reason_of(p, "csnap-a0000002") == retention_reason::younger);  // outside the newest 1, 3 days: not older
    CHECK(reason_of(p, "csnap-a0000004") == retention_reason::newest_n);
}

TEST_CASE("retention R8: the newest group goes only with allow_delete_newest; keep_last 0 needs it") {
    cbs::diagnostics diag;
    auto o = keep(0);
    CHECK(validate(o, diag) == cbs::client_errc::invalid_request);
    CHECK(diag.client_message.find("--allow-delete-newest") != std::string::npos);
    o.allow_delete_newest = true;
    CHECK_FALSE(validate(o, diag));
    auto p = cbs::plan_retention(fleet(), o);
    CHECK(p.to_delete == 5);

    auto old = older(0);
    old.older_than = std::chrono::seconds(1);
    old.allow_delete_newest = true;
    p = cbs::plan_retention(fleet(), old);
    CHECK(p.to_delete == 5);
    CHECK(reason_of(p, "csnap-b0000001") == retention_reason::older_than);
}

TEST_CASE("retention: validate names the option") {
    cbs::diagnostics diag;
    cbs::retention_options none;
    CHECK(validate(none, diag) == cbs::client_errc::invalid_request);
    CHECK(diag.client_message.find("--keep-last") != std::string::npos);
    auto o = keep(1);
    o.instances = {"ins-aaaaaaaa", "i-bad"};
    CHECK(validate(o, diag) == cbs::client_errc::invalid_request);
    CHECK(diag.client_message.find("--instance 'i-bad'") != std::string::npos);
    o = older(1);
    o.older_than = std::chrono::seconds(0);
    CHECK(validate(o, diag) == cbs::client_errc::invalid_request);
    CHECK(diag.client_message.find("--older-than") != std::string::npos);
}

TEST_CASE("retention R4/R5: groups not NORMAL or of unknown age are never deleted, and do not count as newest") {
    auto groups = fleet();
    groups.push_back(group("csnap-a0000005", "fleet-ins-aaaaaaaa-r5", 0, "CREATING"));
    groups[1].state = "ROLLBACKING";  // a0000002
    groups[0].created.reset();        // a0000001
    groups[0].create_time = "yesterday";
    auto o = keep(1);
    o.allow_delete_newest = true;  // R4 / R5 hold whatever the options
    auto p = cbs::plan_retention(groups, o);
    CHECK(reason_of(p, "csnap-a0000005") == retention_reason::not_normal);
    CHECK(reason_of(p, "csnap-a0000002") == retention_reason::not_normal);
    CHECK(reason_of(p, "csnap-a0000001") == retention_reason::unknown_age);
    // The CREATING group may still fail: the newest NORMAL one is what is kept.
    CHECK(reason_of(p, "csnap-a0000004") == retention_reason::newest_n);
    CHECK(deleted_ids(p) == std::vector<std::string>{"csnap-a0000003"});
    CHECK(p.counts.at(retention_reason::not_normal) == 2);
}

TEST_CASE("retention R1/R2/R3: other names, other prefixes and other instances are untouched") {
    auto groups = fleet();
    groups.push_back(group("csnap-x0000001", "manual-backup", 30));
    groups.push_back(group("csnap-x0000002", "weekly-ins-aaaaaaaa-w1", 30));
    groups.push_back(group("csnap-x0000003", "weekly-ins-aaaaaaaa-w2", 20));
    auto o = keep(1);
    auto p = cbs::plan_retention(groups, o);
    CHECK(reason_of(p, "csnap-x0000001") == retention_reason::not_fleet_name);
    // Without a prefix every fleet name counts, per series (prefix, instance):
    // weekly's newest is kept although fleet's groups of a are newer.
    CHECK(reason_of(p, "csnap-x0000003") == retention_reason::newest_n);
    CHECK(reason_of(p, "csnap-x0000002") == retention_reason::beyond_keep_last);

    o.prefix = "fleet";
    p = cbs::plan_retention(groups, o);
    CHECK(reason_of(p, "csnap-x0000002") == retention_reason::other_prefix);
    CHECK(reason_of(p, "csnap-x0000001") == retention_reason::not_fleet_name);
    CHECK(p.to_delete == 3);

    o.instances = {"ins-bbbbbbbb"};
    p = cbs::plan_retention(groups, o);
    CHECK(reason_of(p, "csnap-a0000001") == retention_reason::other_instance);
    CHECK(p.to_delete == 0);
    CHECK(p.untouched.size() == 7);
    CHECK(p.kept == 8);
}

TEST_CASE("retention: ties on CreateTime are broken by id; input order and duplicates do not matter") {
    std::vector<cbs::retention_group> groups{group("csnap-t0000002", "f-ins-cccccccc-r2", 1),
                                             group("csnap-t0000001", "f-ins-cccccccc-r1", 1),
                                             group("csnap-t0000003", "f-ins-cccccccc-r3", 1)};
    auto p = cbs::plan_retention(groups, keep(1));
    CHECK(reason_of(p, "csnap-t0000003") == retention_reason::newest_n);  // the larger id is the newer
    CHECK(deleted_ids(p) == std::vector<std::string>{"csnap-t0000001", "csnap-t0000002"});
    std::reverse(groups.begin(), groups.end());
    groups.push_back(groups.front());  // listed twice
    auto q = cbs::plan_retention(groups, keep(1));
    CHECK(deleted_ids(q) == deleted_ids(p));
    CHECK(q.listed == 3);
}

TEST_CASE("CreateTime: Beijing time as sent, ISO 8601 with a zone; anything else refused") {
    // 2026-01-02 08:00:00 in Beijing is 2026-01-02 00:00:00 UTC.
    constexpr std::int64_t midnight_utc = 1767312000;
    CHECK(cbs::parse_create_time("2026-01-02 08:00:00") == midnight_utc);
    CHECK(cbs::parse_create_time("2026-01-02T00:00:00Z") == midnight_utc);
    CHECK(cbs::parse_create_time("2026-01-02T08:00:00+08:00") == midnight_utc);
    CHECK(cbs::parse_create_time("2026-01-01T19:00:00-05:00") == midnight_utc);
    for (const char* bad : {"", "2026-01-02", "2026-13-02 08:00:00", "2026-02-30 08:00:00", "2026-01-02 24:00:00",
                            "2026-01-02 08:00:00Z", "2026-01-02T08:00:00", "2026/01/02 08:00:00", "yesterday"})
        CHECK_MESSAGE(!cbs::parse_create_time(bad), bad);
}
