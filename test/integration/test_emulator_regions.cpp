// The emulator with fleets in several regions, over the wire: X-TC-Region
// picks the state, ids are unique across regions, fleets are seeded from
// fleet.seed and the region, the request log names the region, and the rate
// windows are shared across regions unless per_region.
#include "support/emulator_harness.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>

namespace asio = boost::asio;
namespace json = boost::json;
namespace emu = cbs::emu;
using namespace std::chrono_literals;
using cbs::test::group_body;
using cbs::test::harness_client;
using cbs::test::harness_params;
using cbs::test::one_filter;
using cbs::test::run_emulator_test;

namespace {

std::vector<std::string> instances_in(emu::emulator& e, const std::string& region) {
    std::vector<std::string> out;
    e.inspect(region, [&](emu::fleet_state& f) { out = f.instance_ids(); });
    return out;
}

std::set<std::string> all_ids(emu::emulator& e, const std::string& region) {
    std::set<std::string> out;
    e.inspect(region, [&](emu::fleet_state& f) {
        for (const auto& i : f.instance_ids()) {
            out.insert(i);
            for (const auto& d : f.disks_of(i)) out.insert(d.disk_id);
        }
        for (const auto& d : f.disks_of("")) out.insert(d.disk_id);
        for (const auto& g : f.groups()) {
            out.insert(g.group_id);
            out.insert(g.snapshot_ids.begin(), g.snapshot_ids.end());
        }
    });
    return out;
}

}  // namespace

TEST_CASE("emulator regions: each fleet region has its own seeded fleet; fleet.region's is the one-region fleet") {
    asio::io_context io;
    auto p = harness_params(25);
    p.fleet.seed = 7;
    emu::emulator single(io.get_executor(), p);
    p.fleet_regions = {"ap-shanghai", "ap-guangzhou", "ap-beijing", "ap-shanghai"};
    emu::emulator multi(io.get_executor(), p);
    emu::emulator again(io.get_executor(), p);

    CHECK(multi.fleet_regions() == std::vector<std::string>{"ap-guangzhou", "ap-shanghai", "ap-beijing"});
    CHECK(single.fleet_regions() == std::vector<std::string>{"ap-guangzhou"});
    // fleet.region keeps fleet.seed: exactly the fleet one region always had.
    CHECK(instances_in(multi, "ap-guangzhou") == instances_in(single, "ap-guangzhou"));
    std::vector<std::string> via_default;
    multi.inspect([&](emu::fleet_state& f) { via_default = f.instance_ids(); });
    CHECK(via_default == instances_in(single, "ap-guangzhou"));
    // Same params, same fleets; every region its own instances and disks, no id twice.
    std::set<std::string> seen;
    std::size_t total = 0;
    for (const auto& r : multi.fleet_regions()) {
        CHECK(instances_in(multi, r).size() == 25);
        CHECK(instances_in(multi, r) == instances_in(again, r));
        const auto ids = all_ids(multi, r);
        total += ids.size();
        seen.insert(ids.begin(), ids.end());
    }
    CHECK(seen.size() == total);
    CHECK(instances_in(multi, "ap-shanghai") != instances_in(multi, "ap-beijing"));
    // Disks are placed in their region's zones.
    multi.inspect("ap-beijing", [](emu::fleet_state& f) {
        auto ins = f.instance_ids().front();
        CHECK(!f.disks_of(ins).empty());
    });
    // A region without a fleet is empty; one the emulator does not accept is an error.
    CHECK(instances_in(multi, "ap-tokyo").empty());
    CHECK_THROWS_AS(multi.inspect("xx-nowhere-1", [](emu::fleet_state&) {}), std::invalid_argument);

    auto bad = harness_params();
    bad.fleet_regions = {"ap-shanghai", "mars-north-1"};
    CHECK_THROWS_WITH_AS(emu::emulator(io.get_executor(), bad), doctest::Contains("mars-north-1"),
                         std::invalid_argument);
    bad.regions = {"ap-guangzhou", "mars-north-1"};
    bad.fleet_regions = {"mars-north-1"};
    CHECK_NOTHROW(emu::emulator(io.get_executor(), bad));
}

TEST_CASE("emulator regions: X-TC-Region picks the state; the request log records the region") {
    asio::io_context io;
    auto p = harness_params(6);
    p.fleet_regions = {"ap-shanghai"};
    const auto dir = std::filesystem::temp_directory_path() / "cbs-emu-regions-log";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    p.log_file = (dir / "requests.jsonl").string();
    emu::emulator e(io.get_executor(), p);
    e.start();
    cbs::client gz(io.get_executor(), harness_client(e, "ap-guangzhou"));
    cbs::client sh(io.get_executor(), harness_client(e, "ap-shanghai"));
    const auto gz_ins = instances_in(e, "ap-guangzhou").front();
    const auto sh_ins = instances_in(e, "ap-shanghai").front();
    std::vector<std::string> gz_disks, sh_disks;
    e.inspect("ap-guangzhou", [&](emu::fleet_state& f) { gz_disks = cbs::test::disk_ids_of(f, gz_ins); });
    e.inspect("ap-shanghai", [&](emu::fleet_state& f) { sh_disks = cbs::test::disk_ids_of(f, sh_ins); });

    run_emulator_test(io, e, [&]() -> asio::awaitable<void> {
        // Each region lists its own disks.
        auto r = co_await sh.async_call("DescribeDisks", one_filter("instance-id", sh_ins), cbs::as_result);
        REQUIRE_MESSAGE(!r.ec, r.diag.to_string(r.ec));
        CHECK(r.value.at("TotalCount").as_int64() == static_cast<std::int64_t>(sh_disks.size()));
        const std::string zone(r.value.at("DiskSet").as_array().at(0).at("Placement").at("Zone").as_string());
        CHECK(zone.rfind("ap-shanghai-", 0) == 0);
        r = co_await gz.async_call("DescribeDisks", one_filter("instance-id", sh_ins), cbs::as_result);
        REQUIRE(!r.ec);
        CHECK(r.value.at("TotalCount").as_int64() == 0);

        // A group in Shanghai; Guangzhou does not know the disk.
        auto g = co_await sh.async_call("CreateSnapshotGroup", group_body(sh_disks, "sh-1"), cbs::as_result);
        REQUIRE_MESSAGE(!g.ec, g.diag.to_string(g.ec));
        g = co_await gz.async_call("CreateSnapshotGroup", group_body(sh_disks, "gz-1"), cbs::as_result);
        CHECK(g.diag.server_code == "InvalidDiskId.NotFound");
        auto l = co_await gz.async_call("DescribeSnapshotGroups", json::object{}, cbs::as_result);
        REQUIRE(!l.ec);
        CHECK(l.value.at("TotalCount").as_int64() == 0);
        l = co_await sh.async_call("DescribeSnapshotGroups", json::object{}, cbs::as_result);
        REQUIRE(!l.ec);
        CHECK(l.value.at("TotalCount").as_int64() == 1);
    });
    std::size_t sh_groups = 9, gz_groups = 9;
    e.inspect("ap-shanghai", [&](emu::fleet_state& f) { sh_groups = f.groups().size(); });
    e.inspect([&](emu::fleet_state& f) { gz_groups = f.groups().size(); });
    CHECK(sh_groups == 1);
    CHECK(gz_groups == 0);

    const auto log = e.request_log();
    REQUIRE(log.size() == 6);
    const std::vector<std::string> want{"ap-shanghai",  "ap-guangzhou", "ap-shanghai",
                                        "ap-guangzhou", "ap-guangzhou", "ap-shanghai"};
    for (std::size_t i = 0; i < log.size(); ++i) CHECK(log[i].region == want[i]);
    std::ifstream in(p.log_file);
    std::string line;
    std::vector<std::string> logged;
    while (std::getline(in, line)) logged.emplace_back(json::parse(line).at("region").as_string());
    CHECK(logged == want);
    std::filesystem::remove_all(dir);
}

namespace {

/// Sends `n` DescribeSnapshotGroups from each client at one instant (the
/// steady clock does not move), returns the refusal codes.
asio::awaitable<std::vector<std::string>> burst(std::vector<cbs::client*> clients, int n) {
    std::vector<std::string> refused;
    for (int i = 0; i < n; ++i)
        for (auto* c : clients) {
            auto r = co_await c->async_call("DescribeSnapshotGroups", json::object{}, cbs::as_result);
            if (r.ec) refused.push_back(r.diag.server_code);
        }
    co_return refused;
}

}  // namespace

TEST_CASE("emulator regions: one rate window across regions by default, one per region with per_region") {
    for (const bool per_region : {false, true}) {
        CAPTURE(per_region);
        cbs::test::manual_steady_clock clk;  // never moves: every request in one window
        asio::io_context io;
        auto p = harness_params(3);
        p.fleet_regions = {"ap-shanghai"};
        p.steady_now = clk.fn();
        p.rate_limits.enabled = true;
        p.rate_limits.per_region = per_region;
        p.rate_limits.throttle_codes = {{"RequestLimitExceeded.GlobalRegionUinLimitExceeded", 1},
                                        {"RequestLimitExceeded", 1}};
        emu::emulator e(io.get_executor(), p);
        e.start();
        cbs::client gz(io.get_executor(), harness_client(e, "ap-guangzhou"));
        cbs::client sh(io.get_executor(), harness_client(e, "ap-shanghai"));
        cbs::client tk(io.get_executor(), harness_client(e, "ap-tokyo"));  // no fleet, still counted
        std::vector<std::string> refused;
        const std::vector<cbs::client*> all{&gz, &sh, &tk};
        run_emulator_test(io, e, [&]() -> asio::awaitable<void> { refused = co_await burst(all, 12); });
        std::map<std::string, std::size_t> by_region_ok;
        for (const auto& rec : e.request_log())
            if (!rec.throttled) ++by_region_ok[rec.region];
        if (!per_region) {
            // 36 requests, 20 accepted in all: the account's window spans the regions.
            CHECK(refused.size() == 16);
            CHECK(by_region_ok["ap-guangzhou"] + by_region_ok["ap-shanghai"] + by_region_ok["ap-tokyo"] == 20);
            CHECK(std::count(refused.begin(), refused.end(), "RequestLimitExceeded.GlobalRegionUinLimitExceeded") > 0);
        } else {
            // 12 per region, all under the 20 of each region's own window.
            CHECK(refused.empty());
            CHECK(by_region_ok["ap-guangzhou"] == 12);
            CHECK(by_region_ok["ap-shanghai"] == 12);
        }
    }
    // per_region: a region's own window fills; the refusals never claim the global sub-code.
    cbs::test::manual_steady_clock clk;
    asio::io_context io;
    auto p = harness_params(3);
    p.steady_now = clk.fn();
    p.rate_limits.enabled = true;
    p.rate_limits.per_region = true;
    p.rate_limits.throttle_codes = {{"RequestLimitExceeded.GlobalRegionUinLimitExceeded", 1},
                                    {"RequestLimitExceeded.UinLimitExceeded", 1}};
    emu::emulator e(io.get_executor(), p);
    e.start();
    cbs::client sh(io.get_executor(), harness_client(e, "ap-shanghai"));
    cbs::client gz(io.get_executor(), harness_client(e, "ap-guangzhou"));
    std::vector<std::string> refused, refused_gz;
    const std::vector<cbs::client*> only_sh{&sh}, only_gz{&gz};
    run_emulator_test(io, e, [&]() -> asio::awaitable<void> {
        refused = co_await burst(only_sh, 30);
        refused_gz = co_await burst(only_gz, 20);  // its own window is still empty
    });
    CHECK(refused.size() == 10);
    CHECK(refused_gz.empty());
    for (const auto& code : refused) CHECK(code == "RequestLimitExceeded.UinLimitExceeded");
}
