// Splitting a fleet into shards (snapshot-fleet --shard I/N): the hash is
// fixed by its definition (FNV-1a 64), the shards partition any list, are
// balanced, and the fleet core plans, reports and counts only its own shard.
#include <cbs/detail/fleet_core.hpp>
#include <cbs/journal.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <vector>

using namespace std::chrono_literals;

namespace {

std::vector<std::string> ids(std::size_t n) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < n; ++i) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "ins-%08zx", i * 7919 + 13);
        out.emplace_back(buf);
    }
    return out;
}

cbs::disk attached(const std::string& instance) {
    cbs::disk d;
    d.disk_id = "disk-" + instance.substr(4);
    d.instance_id = instance;
    d.disk_state = "ATTACHED";
    d.disk_usage = "DATA_DISK";
    d.snapshot_ability = true;
    d.attached = true;
    return d;
}

}  // namespace

TEST_CASE("fleet shard: the hash is FNV-1a 64, fixed values (stable across versions and platforms)") {
    // The published FNV-1a 64 test vectors ...
    CHECK(cbs::fleet_shard_hash("") == 0xcbf29ce484222325ULL);
    CHECK(cbs::fleet_shard_hash("a") == 0xaf63dc4c8601ec8cULL);
    CHECK(cbs::fleet_shard_hash("foobar") == 0x85944171f73967e8ULL);
    // ... and instance ids: a change here moves instances between shards of
    // a run already under way on other hosts.
    CHECK(cbs::fleet_shard_hash("ins-00000001") == 0x08fc3f74c67d7fc1ULL);
    CHECK(cbs::fleet_shard_hash("ins-abcdef12") == 0xa732f4f459f4c986ULL);
    CHECK(cbs::fleet_shard_hash("ins-zzzzzzzz") == 0xd120ec8acc4c3d7eULL);
    CHECK(cbs::fleet_shard_of("ins-00000001", 3) == 3);
    CHECK(cbs::fleet_shard_of("ins-00000001", 7) == 1);
    CHECK(cbs::fleet_shard_of("ins-abcdef12", 7) == 2);
    CHECK(cbs::fleet_shard_of("foobar", 7) == 7);
    CHECK(cbs::fleet_shard_of("anything", 1) == 1);
    // Bytes, not chars: a byte >= 0x80 is taken unsigned everywhere.
    CHECK(cbs::fleet_shard_hash("\xff") == ((0xcbf29ce484222325ULL ^ 0xffULL) * 1099511628211ULL));
}

TEST_CASE("fleet shard: for N = 1..7 every id of 1000 is in exactly one shard, and the shards are balanced") {
    const auto all = ids(1000);
    for (std::size_t n = 1; n <= 7; ++n) {
        CAPTURE(n);
        std::vector<std::size_t> sizes(n + 1, 0);
        for (const auto& id : all) {
            std::size_t owners = 0;
            for (std::size_t i = 1; i <= n; ++i) {
                // What the core of shard i/n does with the id.
                cbs::fleet_params p;
                p.run_id = "r";
                p.shard_index = i;
                p.shard_count = n;
                cbs::detail::fleet_core c(p, cbs::detail::fleet_time{} + 1s);
                if (c.in_shard(id)) {
                    ++owners;
                    ++sizes[i];
                }
            }
            CHECK(owners == 1);
        }
        const double fair = 1000.0 / static_cast<double>(n);
        for (std::size_t i = 1; i <= n; ++i) {
            CAPTURE(i);
            CHECK(static_cast<double>(sizes[i]) > fair * 0.8);  // roughly balanced: within 20%
            CHECK(static_cast<double>(sizes[i]) < fair * 1.2);
        }
    }
}

TEST_CASE("fleet shard: bad settings are refused naming what is wrong") {
    CHECK(cbs::fleet_shard_error(1, 1).empty());
    CHECK(cbs::fleet_shard_error(3, 3).empty());
    CHECK(cbs::fleet_shard_error(1, 0) == "the shard count must be at least 1 (got 0)");
    CHECK(cbs::fleet_shard_error(0, 3) == "shard 0/3: the shard index must be from 1 to 3");
    CHECK(cbs::fleet_shard_error(4, 3) == "shard 4/3: the shard index must be from 1 to 3");
}

TEST_CASE("fleet shard P10: the core plans only its shard; the others are counted, never looked up") {
    const auto all = ids(60);
    std::size_t covered = 0;
    std::vector<std::string> seen;
    for (std::size_t i = 1; i <= 3; ++i) {
        for (const bool discover_all : {false, true}) {
            CAPTURE(i);
            CAPTURE(discover_all);
            cbs::fleet_params p;
            p.run_id = "r";
            p.shard_index = i;
            p.shard_count = 3;
            cbs::detail::fleet_core c(p, cbs::detail::fleet_time{} + 1s);
            std::vector<cbs::disk> disks;
            for (const auto& id : all) disks.push_back(attached(id));
            if (discover_all) {
                disks.push_back(attached(all.front()));  // an instance's second listing is not counted twice
                c.plan_disks(disks, true);
            } else {
                REQUIRE(c.add_instances(all).empty());
                c.plan_disks(disks, false);
            }
            c.finish_planning(cbs::detail::fleet_time{} + 1s, 0ms);
            const auto& r = c.report();
            CHECK(r.listed_instances == 60);
            CHECK(r.shard_index == i);
            CHECK(r.shard_count == 3);
            CHECK(c.size() + c.other_shards() == 60);
            for (const auto& ir : r.instances) CHECK(cbs::fleet_shard_of(ir.instance_id, 3) == i);
            // Nothing of another shard is looked up (nor, so, adopted or swept).
            for (const auto& name : c.names_to_look_up()) CHECK(cbs::fleet_shard_of(name.substr(6, 12), 3) == i);
            for (const auto& name : c.sweep_names()) CHECK(cbs::fleet_shard_of(name.substr(6, 12), 3) == i);
            CHECK(c.names_to_look_up().size() == c.size());
            auto json = cbs::to_json(r);
            CHECK(json.at("shard").at("index").to_number<int>() == static_cast<int>(i));
            CHECK(json.at("shard").at("count").to_number<int>() == 3);
            CHECK(json.at("shard").at("instances_listed").to_number<int>() == 60);
            CHECK(json.at("shard").at("instances_in_shard").to_number<std::size_t>() == c.size());
            if (!discover_all) {
                covered += c.size();
                for (const auto& ir : r.instances) seen.push_back(ir.instance_id);
            }
        }
    }
    CHECK(covered == 60);
    std::sort(seen.begin(), seen.end());
    CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());
    // A duplicate id is refused even when it is another shard's.
    cbs::fleet_params p;
    p.run_id = "r";
    p.shard_count = 2;
    cbs::detail::fleet_core c(p, cbs::detail::fleet_time{} + 1s);
    const std::string other = cbs::fleet_shard_of("ins-00000001", 2) == 1 ? "ins-00000002" : "ins-00000001";
    REQUIRE(cbs::fleet_shard_of(other, 2) == 2);
    CHECK(c.add_instances({other, other}) == "instance id '" + other + "' is listed twice");
}

TEST_CASE("fleet shard: each shard has its own default journal, and never resumes another's") {
    // The default path names the shard (unsplit runs keep theirs).
    ::setenv("CBS_STATE_DIR", "/s", 1);
    CHECK(cbs::default_journal_path("r1") == "/s/r1.journal");
    CHECK(cbs::default_journal_path("r1", 1, 1) == "/s/r1.journal");
    CHECK(cbs::default_journal_path("r1", 2, 3) == "/s/r1.shard-2-of-3.journal");
    ::unsetenv("CBS_STATE_DIR");
    // The header records the shard; a resume with another is refused naming it.
    cbs::journal_header h;
    h.run_id = "r1";
    h.name_prefix = "fleet";
    h.shard = "1/3";
    const auto text = cbs::format_journal_header(h);
    CHECK(text.find("\"shard\":\"1/3\"") != std::string::npos);
    cbs::journal_contents back;
    cbs::diagnostics diag;
    REQUIRE_FALSE(cbs::parse_journal(text, "j", back, diag));
    CHECK(back.header.shard == "1/3");
    auto other = h;
    other.shard = "2/3";
    CHECK(cbs::check_journal_header(back.header, other, "/x/j", diag) == cbs::client_errc::invalid_config);
    CHECK(diag.client_message ==
          "journal '/x/j' was written for --shard '1/3'; this run has '2/3' (resume with the same value, or use "
          "another journal)");
    auto unsplit = h;
    unsplit.shard.clear();
    CHECK(cbs::check_journal_header(unsplit, other, "/x/j", diag) == cbs::client_errc::invalid_config);
    CHECK(diag.client_message.find("--shard '1/1'; this run has '2/3'") != std::string::npos);
    CHECK_FALSE(cbs::check_journal_header(back.header, h, "/x/j", diag));
    // An unsplit run's header is what it always was (no shard field).
    CHECK(cbs::format_journal_header(unsplit).find("shard") == std::string::npos);
}
