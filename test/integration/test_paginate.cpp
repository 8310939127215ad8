// The paging and batching helpers and the typed Describe*/Delete actions over
// real TLS against a scripted server that answers from an in-memory fleet by
// the request's Filters, Limit and Offset. Client and server share one
// single-threaded io_context.
#include "support/pki.hpp"
#include "support/run_to_end.hpp"
#include "support/scripted_server.hpp"

#include <cbs/client.hpp>
#include <cbs/describe_actions.hpp>
#include <cbs/paginate.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <set>

namespace asio = boost::asio;
namespace json = boost::json;
namespace t = cbs::test;
using namespace std::chrono_literals;
using cbs::client_errc;

namespace {

cbs::client_params params_for(const t::scripted_server& server) {
    cbs::client_params p;
    p.pool.ca_file = t::default_pki().write_ca_file();
    p.endpoint = server.endpoint();
    p.creds = {"AKIDX", "key", "", "explicit"};
    p.rate_limit = false;
    p.request_timeout = 5s;
    return p;
}

template <class F>
void run(asio::io_context& io, t::scripted_server& server, F body) {
    t::run_to_end(
        io, [&] { server.stop(); }, std::move(body), std::chrono::seconds(20));
}

std::string envelope(json::object response, std::string_view request_id) {
    response["RequestId"] = request_id;
    return t::http_ok_json(json::serialize(json::object{{"Response", std::move(response)}}));
}

std::string id8(std::string_view prefix, int n) {
    return std::string(prefix) + std::to_string(10000000 + n);
}

/// A fleet of `instances` instances with `disks_per_instance` disks each,
/// answered like DescribeDisks (instance-id filter, Limit, Offset).
struct disk_fleet {
    int instances = 0;
    int disks_per_instance = 0;
    std::int64_t total_override = -1;  ///< >= 0: claim this TotalCount

    std::string answer(const t::recorded_request& r) const {
        const auto body = json::parse(r.body).as_object();
        std::set<std::string> wanted;
        if (auto f = body.find("Filters"); f != body.end())
            for (const auto& flt : f->value().as_array())
                if (flt.at("Name") == "instance-id")
                    for (const auto& v : flt.at("Values").as_array()) wanted.insert(std::string(v.as_string()));
        json::array matched;
        for (int i = 0; i < instances; ++i) {
            const auto ins = id8("ins-", i);
            if (!wanted.empty() && !wanted.count(ins)) continue;
            for (int k = 0; k < disks_per_instance; ++k)
                matched.push_back(
                    json::object{{"DiskId", id8("disk-", i * disks_per_instance + k)},
                                 {"InstanceId", ins},
                                 {"DiskUsage", k == 0 ? "SYSTEM_DISK" : "DATA_DISK"},
                                 {"DiskState", "ATTACHED"},
                                 {"Attached", true},
                                 {"SnapshotAbility", true},
                                 {"Placement", json::object{{"Zone", "ap-guangzhou-3"}, {"ProjectId", 0}}},
                                 {"DeadlineTime", nullptr},
                                 {"Tags", nullptr}});
        }
        const auto offset = static_cast<std::size_t>(body.at("Offset").as_int64());
        const auto limit = static_cast<std::size_t>(body.at("Limit").as_int64());
        json::array page;
        for (std::size_t i = offset; i < matched.size() && i < offset + limit; ++i) page.push_back(matched[i]);
        const std::int64_t total = total_override >= 0 ? total_override : static_cast<std::int64_t>(matched.size());
        return envelope(json::object{{"TotalCount", total}, {"DiskSet", std::move(page)}},
                        "rid-" + std::to_string(offset));
    }
};

std::vector<std::string> request_bodies(const t::scripted_server& server) {
    std::vector<std::string> out;
    for (const auto& r : server.requests()) out.push_back(r.body);
    return out;
}

}  // namespace

TEST_CASE("paginate: async_describe_all_disks pages by 100 over TLS until TotalCount") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    disk_fleet fleet{.instances = 100, .disks_per_instance = 3};
    server.set_default_script({t::serve([&](const t::recorded_request& r) { return fleet.answer(r); })});
    cbs::client c(io.get_executor(), params_for(server));

    std::vector<std::string> ids;
    for (int i = 0; i < 80; ++i) ids.push_back(id8("ins-", i));
    run(io, server, [&]() -> asio::awaitable<void> {
        auto batches = cbs::disks_by_instance_batches(ids);
        REQUIRE(batches.size() == 1);
        auto r = co_await cbs::async_describe_all_disks(c, std::move(batches[0]), cbs::as_result);
        REQUIRE_MESSAGE(!r.ec, r.diag.to_string(r.ec));
        CHECK(r.value.size() == 240);
        CHECK(r.value.front().disk_id == "disk-10000000");
        CHECK(r.value.front().instance_id == "ins-10000000");
        CHECK(r.value.front().disk_usage == "SYSTEM_DISK");
        CHECK(r.value.front().zone == "ap-guangzhou-3");
        CHECK(r.value.front().snapshot_ability);
        CHECK(r.value.back().disk_id == "disk-10000239");
        CHECK(r.diag.request_ids == std::vector<std::string>{"rid-0", "rid-100", "rid-200"});
        CHECK(r.diag.attempts == 3);
    });
    const auto bodies = request_bodies(server);
    REQUIRE(bodies.size() == 3);
    for (std::size_t i = 0; i < bodies.size(); ++i) {
        auto b = json::parse(bodies[i]).as_object();
        CHECK(b.at("Limit") == 100);
        CHECK(b.at("Offset") == static_cast<std::int64_t>(i * 100));
        CHECK(b.at("Filters").as_array().at(0).at("Values").as_array().size() == 80);
    }
    CHECK(server.requests()[0].header("X-TC-Action") == "DescribeDisks");
}

TEST_CASE("paginate: a server whose TotalCount overstates stops at the first empty page") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    disk_fleet fleet{.instances = 50, .disks_per_instance = 3, .total_override = 100000};
    server.set_default_script({t::serve([&](const t::recorded_request& r) { return fleet.answer(r); })});
    cbs::client c(io.get_executor(), params_for(server));
    run(io, server, [&]() -> asio::awaitable<void> {
        cbs::describe_disks_request all;  // no filter: every disk
        auto r = co_await cbs::async_describe_all_disks(c, std::move(all), cbs::as_result);
        REQUIRE_FALSE(r.ec);
        CHECK(r.value.size() == 150);
    });
    CHECK(server.requests().size() == 3);  // 100, 50, then the empty page
}

TEST_CASE("paginate: an API error on a later page is the result, with every RequestId") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    disk_fleet fleet{.instances = 100, .disks_per_instance = 2};
    server.set_default_script({t::serve([&](const t::recorded_request& r) {
        if (json::parse(r.body).at("Offset") == 100)
            return t::http_ok_json(t::api_error_body("InvalidFilter", "The filter is not valid.", "rid-err"));
        return fleet.answer(r);
    })});
    cbs::client c(io.get_executor(), params_for(server));
    run(io, server, [&]() -> asio::awaitable<void> {
        cbs::describe_disks_request all;
        auto r = co_await cbs::async_describe_all_disks(c, std::move(all), cbs::as_result);
        CHECK(r.ec == cbs::api_errc::invalid_filter);
        CHECK(r.diag.server_code == "InvalidFilter");
        CHECK(r.value.empty());
        CHECK(r.diag.request_id == "rid-err");
        CHECK(r.diag.request_ids == std::vector<std::string>{"rid-0", "rid-err"});
        // The throwing form.
        bool threw = false;
        try {
            cbs::describe_disks_request again;
            (void)co_await cbs::async_describe_all_disks(c, std::move(again));
        } catch (const cbs::error& e) {
            threw = true;
            CHECK(e.code() == cbs::api_errc::invalid_filter);
        }
        CHECK(threw);
    });
}

TEST_CASE("paginate: polling 250 snapshot groups by id costs 3 DescribeSnapshotGroups calls") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.set_default_script({t::serve([](const t::recorded_request& r) {
        const auto body = json::parse(r.body).as_object();
        const auto& f = body.at("Filters").as_array().at(0).as_object();
        CHECK(f.at("Name") == "snapshot-group-id");
        json::array set;
        for (const auto& v : f.at("Values").as_array()) {
            const std::string id(v.as_string());
            const bool even = (id.back() - '0') % 2 == 0;
            set.push_back(json::object{{"SnapshotGroupId", id},
                                       {"SnapshotGroupName", "fleet-" + id},
                                       {"SnapshotGroupType", "NORMAL"},
                                       {"SnapshotGroupState", even ? "NORMAL" : "CREATING"},
                                       {"Percent", even ? 100 : 50},
                                       {"SnapshotIdSet", json::array{"snap-" + id.substr(6)}},
                                       {"ContainRootSnapshot", true},
                                       {"Images", json::array{}},
                                       {"ImageCount", 0},
                                       {"IsPermanent", true},
                                       {"DeadlineTime", nullptr},
                                       {"AutoSnapshotPolicyId", nullptr}});
        }
        const auto n = static_cast<std::int64_t>(set.size());
        return envelope(json::object{{"TotalCount", n}, {"SnapshotGroupSet", std::move(set)}}, "rid");
    })});
    cbs::client c(io.get_executor(), params_for(server));
    std::vector<std::string> ids;
    for (int i = 0; i < 250; ++i) ids.push_back(id8("csnap-", i));
    run(io, server, [&]() -> asio::awaitable<void> {
        std::size_t normal = 0, seen = 0;
        for (auto& req : cbs::snapshot_groups_by_id_batches(ids)) {
            auto r = co_await cbs::async_describe_all_snapshot_groups(c, std::move(req), cbs::as_result);
            REQUIRE_MESSAGE(!r.ec, r.diag.to_string(r.ec));
            for (const auto& g : r.value) {
                ++seen;
                if (g.state == "NORMAL") {
                    ++normal;
                    CHECK(g.percent == 100);
                }
                CHECK(g.snapshot_ids.size() == 1);
                CHECK(g.name == "fleet-" + g.snapshot_group_id);
            }
        }
        CHECK(seen == 250);
        CHECK(normal == 125);
    });
    REQUIRE(server.requests().size() == 3);
    CHECK(server.requests()[0].header("X-TC-Action") == "DescribeSnapshotGroups");
}

TEST_CASE("typed DeleteSnapshotGroup and DescribeSnapshots through client::async_invoke") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.set_default_script({t::serve([](const t::recorded_request& r) {
        if (r.header("X-TC-Action") == "DeleteSnapshotGroup") return envelope(json::object{}, "rid-del");
        return envelope(json::object{{"TotalCount", 1},
                                     {"SnapshotSet", json::array{json::object{{"SnapshotId", "snap-3hbsu5rq"},
                                                                              {"SnapshotState", "NORMAL"},
                                                                              {"Percent", 100},
                                                                              {"DiskId", "disk-o0z6mf5z"},
                                                                              {"DeadlineTime", nullptr}}}}},
                        "rid-snap");
    })});
    cbs::client c(io.get_executor(), params_for(server));
    run(io, server, [&]() -> asio::awaitable<void> {
        cbs::delete_snapshot_group_request del;
        del.snapshot_group_ids = {"csnap-oavcw09g", "csnap-12345678"};
        auto d = co_await c.async_invoke(del, cbs::as_result);
        REQUIRE_FALSE(d.ec);
        CHECK(d.value.request_id == "rid-del");

        cbs::describe_snapshots_request snaps;
        snaps.filters = {{"disk-id", {"disk-o0z6mf5z"}}};
        auto s = co_await c.async_invoke(snaps, cbs::as_result);
        REQUIRE_FALSE(s.ec);
        REQUIRE(s.value.snapshot_set.size() == 1);
        CHECK(s.value.snapshot_set[0].disk_id == "disk-o0z6mf5z");

        // Invalid: nothing is sent.
        cbs::delete_snapshot_group_request none;
        auto bad = co_await c.async_invoke(none, cbs::as_result);
        CHECK(bad.ec == client_errc::invalid_request);
        CHECK(bad.diag.attempts == 0);
    });
    REQUIRE(server.requests().size() == 2);
    CHECK(server.requests()[0].body == R"({"SnapshotGroupIds":["csnap-oavcw09g","csnap-12345678"]})");
    CHECK(server.requests()[1].header("X-TC-Action") == "DescribeSnapshots");
    CHECK(server.requests()[1].body ==
          R"({"Filters":[{"Name":"disk-id","Values":["disk-o0z6mf5z"]}],"Limit":20,"Offset":0})");
}
