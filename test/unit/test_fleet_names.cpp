#include <cbs/fleet_names.hpp>

#include <doctest/doctest.h>

TEST_CASE("fleet group names parse back into prefix, instance and run id") {
    auto p = cbs::parse_fleet_group_name("nightly-ins-abc12345-20261203-1f2e3d");
    REQUIRE(p);
    CHECK(p->prefix == "nightly");
    CHECK(p->instance_id == "ins-abc12345");
    CHECK(p->run_id == "20261203-1f2e3d");

    // A prefix with dashes, and a run id with "-ins-" inside: leftmost split.
    p = cbs::parse_fleet_group_name("db-prod-ins-00000001-run-ins-00000002-x");
    REQUIRE(p);
    CHECK(p->prefix == "db-prod");
    CHECK(p->instance_id == "ins-00000001");
    CHECK(p->run_id == "run-ins-00000002-x");

    // A prefix that looks like a fleet name itself: the given prefix decides.
    p = cbs::parse_fleet_group_name("a-ins-11111111-b-ins-22222222-r1", "a-ins-11111111-b");
    REQUIRE(p);
    CHECK(p->instance_id == "ins-22222222");
    CHECK(p->run_id == "r1");
    CHECK_FALSE(cbs::parse_fleet_group_name("other-ins-22222222-r1", "a"));
    CHECK_FALSE(cbs::parse_fleet_group_name("ab-ins-22222222-r1", "a"));
}

TEST_CASE("names that are not a fleet's are refused") {
    for (const char* name : {"", "manual-backup", "ins-abc12345-r1", "x-ins-ABC12345-r1", "x-ins-abc1234-r1",
                             "x-ins-abc12345", "x-ins-abc12345-", "x-ins-abc12345-.hidden", "x-ins-abc12345-a/b"})
        CHECK_MESSAGE(!cbs::parse_fleet_group_name(name), name);
    CHECK(cbs::is_instance_id("ins-0a1b2c3d"));
    CHECK_FALSE(cbs::is_instance_id("ins-0a1b2c3"));
    CHECK(cbs::is_run_id("20261203T010203-abc.1_x"));
    CHECK_FALSE(cbs::is_run_id(std::string(65, 'a')));
}
