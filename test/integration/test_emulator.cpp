// The embedded emulator driven by the real client over real TLS: signed calls,
// the client-visible error codes, the sliding-window rate limits, each fault
// kind, the request logs, state directories, multi-threaded serving, stop().
#include "support/emulator_harness.hpp"
#include "support/run_to_end.hpp"

#include <cbs/client.hpp>
#include <cbs/emulator/emulator.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

namespace asio = boost::asio;
namespace json = boost::json;
namespace emu = cbs::emu;
using namespace std::chrono_literals;

namespace {

constexpr const char* test_id = "AKIDEMULATORTEST00000000000000000000";
constexpr const char* test_key = "emulator-test-secret-key-do-not-log";

using manual_clock = cbs::test::manual_steady_clock;

emu::emulator_params params() {
    emu::emulator_params p;
    p.fleet.instances = 30;
    p.fleet.no_snapshot_ability = 0;
    p.accounts = {{test_id, test_key, ""}, {"AKIDSECONDACCOUNT", "second-key", ""}};
    p.rate_limits.throttle_codes = {
        {"RequestLimitExceeded", 1}};  // counted exactly below; the mix: test_emulator_gateway.cpp
    return p;
}

cbs::client_params client_for(const emu::emulator& e, std::string id = test_id, std::string key = test_key) {
    cbs::client_params p;
    p.endpoint = e.endpoint();
    p.pool.ca_file = e.ca_file();
    p.creds = {std::move(id), std::move(key), "", "explicit"};
    p.request_timeout = 5s;
    p.rate_limit = false;  // these tests look at the server's limits
    p.retry.throttle_max_attempts = p.retry.transient_max_attempts = p.retry.network_max_attempts =
        p.retry.busy_max_attempts = 1;
    return p;
}

template <class F>
void run(asio::io_context& io, emu::emulator& e, F body, std::chrono::seconds limit = 30s) {
    cbs::test::run_to_end(
        io, [&] { e.stop(); }, std::move(body), limit);
}

/// The snapshottable disks of the i-th instance.
std::pair<std::string, json::array> instance_disks(emu::emulator& e, std::size_t i) {
    std::pair<std::string, json::array> out;
    e.inspect([&](emu::fleet_state& f) {
        out.first = f.instance_ids().at(i);
        for (const auto& d : f.disks_of(out.first))
            if (d.snapshot_ability && !d.migrating && !d.rollbacking) out.second.push_back(json::string(d.disk_id));
    });
    return out;
}

json::object create_body(emu::emulator& e, std::size_t i) {
    auto [ins, disks] = instance_disks(e, i);
    json::object b;
    b["DiskIds"] = disks;
    b["SnapshotGroupName"] = "test-" + ins;
    return b;
}

std::size_t group_count(emu::emulator& e) {
    std::size_t n = 0;
    e.inspect([&](emu::fleet_state& f) { n = f.groups().size(); });
    return n;
}

/// n calls of `action` at once (each its own coroutine on the strand `ex`).
asio::awaitable<std::vector<cbs::result<json::object>>> concurrently(cbs::client& c, std::string action,
                                                                     std::vector<json::object> bodies) {
    auto ex = co_await asio::this_coro::executor;
    std::vector<cbs::result<json::object>> out(bodies.size());
    std::size_t remaining = bodies.size();
    asio::steady_timer all_done(ex, asio::steady_timer::time_point::max());
    for (std::size_t i = 0; i < bodies.size(); ++i)
        asio::co_spawn(
            ex,
            [&, i]() -> asio::awaitable<void> {
                out[i] = co_await c.async_call(action, bodies[i], cbs::as_result);
                if (--remaining == 0) all_done.cancel();
            },
            asio::detached);
    co_await all_done.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return out;
}

std::size_t count_code(const std::vector<cbs::result<json::object>>& rs, std::string_view code) {
    return std::count_if(rs.begin(), rs.end(), [&](const auto& r) { return r.diag.server_code == code; });
}

}  // namespace

TEST_CASE("emulator: signed calls from the real client succeed on one keep-alive connection") {
    asio::io_context io;
    emu::emulator e(io.get_executor(), params());
    e.start();
    CHECK(e.endpoint() == "https://localhost:" + std::to_string(e.port()));
    CHECK(std::filesystem::exists(e.ca_file()));
    cbs::client c(io.get_executor(), client_for(e));
    const auto body = create_body(e, 0);
    run(io, e, [&]() -> asio::awaitable<void> {
        json::object describe{{"Limit", 5}};
        auto r = co_await c.async_call("DescribeDisks", describe, cbs::as_result);
        REQUIRE_MESSAGE(!r.ec, r.diag.to_string(r.ec));
        CHECK(r.value.at("TotalCount").as_int64() > 0);
        CHECK(r.value.at("DiskSet").as_array().size() == 5);
        CHECK(r.value.at("RequestId").as_string().size() == 36);

        auto g = co_await c.async_call("CreateSnapshotGroup", body, cbs::as_result);
        REQUIRE_MESSAGE(!g.ec, g.diag.to_string(g.ec));
        CHECK(g.value.at("SnapshotGroupId").as_string().starts_with("csnap-"));
    });
    CHECK(group_count(e) == 1);
    CHECK(c.stats().connections_opened == 1);
    auto log = e.request_log();
    REQUIRE(log.size() == 2);
    CHECK(log[0].action == "DescribeDisks");
    CHECK(log[1].action == "CreateSnapshotGroup");
    CHECK(log[1].outcome == "ok");
    CHECK(log[1].secret_id == test_id);
    CHECK(log[0].request_id != log[1].request_id);
}

TEST_CASE("emulator: the client sees the service's codes for its own mistakes") {
    asio::io_context io;
    auto p = params();
    p.accounts.push_back({"AKIDTEMPORARY", "temporary-key", "session-token"});
    emu::emulator e(io.get_executor(), p);
    e.start();
    struct named {
        const char* name;
        cbs::client_params params;
        const char* code;
    };
    std::vector<named> cases;
    auto add = [&](const char* name, const char* code, auto change) {
        auto cp = client_for(e);
        change(cp);
        cases.push_back({name, std::move(cp), code});
    };
    add("right key", "", [](auto&) {});
    add("signs x-tc-action too", "", [](auto& cp) { cp.sign_action = true; });
    add("content type without charset", "", [](auto& cp) { cp.content_type = "application/json"; });
    add("another key", "AuthFailure.SignatureFailure", [](auto& cp) { cp.creds.secret_key = "wrong"; });
    add("unknown id", "AuthFailure.SecretIdNotFound", [](auto& cp) { cp.creds.secret_id = "AKIDUNKNOWN"; });
    add("clock 6 minutes behind", "AuthFailure.SignatureExpire", [](auto& cp) {
        cp.unix_time = [] { return std::int64_t(std::time(nullptr)) - 360; };
        cp.correct_clock_skew = false;  // else corrected from the Date header (test_credentials_roles.cpp)
    });
    add("another service", "AuthFailure.InvalidAuthorization", [](auto& cp) { cp.service = "cvm"; });
    add("bad version", "NoSuchVersion", [](auto& cp) { cp.version = "2020-01-01"; });
    add("unsupported region", "UnsupportedRegion", [](auto& cp) { cp.region = "ap-atlantis"; });
    add("other valid region: empty fleet", "", [](auto& cp) { cp.region = "eu-frankfurt"; });
    add("temporary credentials", "", [](auto& cp) {
        cp.creds = {"AKIDTEMPORARY", "temporary-key", "session-token", "x"};
    });
    add("wrong token", "AuthFailure.TokenFailure", [](auto& cp) {
        cp.creds = {"AKIDTEMPORARY", "temporary-key", "other-token", "x"};
    });
    add("missing token", "AuthFailure.TokenFailure", [](auto& cp) {
        cp.creds = {"AKIDTEMPORARY", "temporary-key", "", "x"};
    });
    std::vector<std::unique_ptr<cbs::client>> clients;
    for (auto& k : cases) clients.push_back(std::make_unique<cbs::client>(io.get_executor(), k.params));
    run(io, e, [&]() -> asio::awaitable<void> {
        for (std::size_t i = 0; i < cases.size(); ++i) {
            CAPTURE(cases[i].name);
            json::object body{{"Limit", 1}};
            auto r = co_await clients[i]->async_call("DescribeDisks", body, cbs::as_result);
            CHECK(r.diag.server_code == cases[i].code);
            CHECK(bool(r.ec) == (std::string_view(cases[i].code) != ""));
            if (std::string_view(cases[i].name) == "other valid region: empty fleet")
                CHECK(r.value.at("TotalCount").as_int64() == 0);
        }
        json::object none;
        auto r = co_await clients[0]->async_call("DescribeEverything", none, cbs::as_result);
        CHECK(r.diag.server_code == "InvalidAction");
    });
}

TEST_CASE("emulator: sliding 1-second window per action and SecretId") {
    asio::io_context io;
    manual_clock clk;
    auto p = params();
    p.steady_now = clk.fn();
    emu::emulator e(io.get_executor(), p);
    e.start();
    cbs::client c(io.get_executor(), client_for(e));
    cbs::client second(io.get_executor(), client_for(e, "AKIDSECONDACCOUNT", "second-key"));
    std::vector<json::object> creates;
    for (std::size_t i = 0; i < 24; ++i) creates.push_back(create_body(e, i));
    run(io, e, [&]() -> asio::awaitable<void> {
        // 21 CreateSnapshotGroup in one burst (client limiter off): exactly one refused.
        std::vector<json::object> burst(creates.begin(), creates.begin() + 21);
        auto rs = co_await concurrently(c, "CreateSnapshotGroup", burst);
        CHECK(count_code(rs, "RequestLimitExceeded") == 1);
        CHECK(count_code(rs, "") == 20);

        json::object q{{"Limit", 1}};
        // Other actions and other SecretIds have their own windows.
        auto d = co_await c.async_call("DescribeSnapshotGroups", q, cbs::as_result);
        CHECK(d.diag.server_code == "");
        auto s = co_await second.async_call("CreateSnapshotGroup", creates[21], cbs::as_result);
        CHECK(s.diag.server_code == "");

        // Still inside the window 999 ms later; the first arrivals leave it at 1 s.
        clk.advance(999ms);
        auto late = co_await c.async_call("CreateSnapshotGroup", creates[22], cbs::as_result);
        CHECK(late.diag.server_code == "RequestLimitExceeded");
        clk.advance(1ms);
        auto ok = co_await c.async_call("CreateSnapshotGroup", creates[23], cbs::as_result);
        CHECK(ok.diag.server_code == "");

        // DescribeDisks: 100 per second.
        clk.advance(5s);
        std::vector<json::object> reads(101, q);
        auto rd = co_await concurrently(c, "DescribeDisks", reads);
        CHECK(count_code(rd, "RequestLimitExceeded") == 1);
    });
    CHECK(group_count(e) == 22);
}

TEST_CASE("emulator: rate limits can be overridden or turned off") {
    asio::io_context io;
    manual_clock clk;
    auto p = params();
    p.steady_now = clk.fn();
    p.rate_limits.overrides = {{"DescribeSnapshotGroups", 3}};
    emu::emulator e(io.get_executor(), p);
    e.start();
    cbs::client c(io.get_executor(), client_for(e));
    run(io, e, [&]() -> asio::awaitable<void> {
        json::object q{{"Limit", 1}};
        std::vector<json::object> four(4, q);
        auto rs = co_await concurrently(c, "DescribeSnapshotGroups", four);
        CHECK(count_code(rs, "RequestLimitExceeded") == 1);
        emu::rate_limit_params off;
        off.enabled = false;
        e.set_rate_limits(off);
        std::vector<json::object> many(150, q);
        rs = co_await concurrently(c, "DescribeDisks", many);
        CHECK(count_code(rs, "") == 150);
    });
}

TEST_CASE("emulator: fault injection, one kind at a time") {
    asio::io_context io;
    auto p = params();
    p.faults.latency = 300ms;
    p.faults.slow_delay = 3s;
    emu::emulator e(io.get_executor(), p);
    e.start();
    auto cp = client_for(e);
    cp.request_timeout = 1s;
    cbs::client c(io.get_executor(), cp);
    auto only = [&](const char* action, emu::fault_rule r) {
        emu::fault_params f = p.faults;
        f.rules = {{action, r}};
        e.set_faults(f);
    };
    std::vector<json::object> bodies;
    for (std::size_t i = 0; i < 6; ++i) bodies.push_back(create_body(e, i));
    run(io, e, [&]() -> asio::awaitable<void> {
        json::object q{{"Limit", 1}};

        only("DescribeDisks", {.transient = 1});
        std::set<std::string> codes;
        for (int i = 0; i < 30; ++i)
            codes.insert((co_await c.async_call("DescribeDisks", q, cbs::as_result)).diag.server_code);
        CHECK(codes ==
              std::set<std::string>{"InternalError", "InternalError.ComponentError", "ResourceInUse.DiskMigrating"});
        // A rule for one action leaves the others alone.
        CHECK((co_await c.async_call("DescribeSnapshotGroups", q, cbs::as_result)).diag.server_code == "");

        only("DescribeDisks", {.gateway_502 = 1});
        auto r = co_await c.async_call("DescribeDisks", q, cbs::as_result);
        CHECK(r.ec == cbs::client_errc::http_status);

        only("DescribeDisks", {.latency = 1});
        const auto t0 = std::chrono::steady_clock::now();
        r = co_await c.async_call("DescribeDisks", q, cbs::as_result);
        CHECK_FALSE(r.ec);
        CHECK(std::chrono::steady_clock::now() - t0 >= 300ms);

        only("CreateSnapshotGroup", {.reset_before = 1});
        r = co_await c.async_call("CreateSnapshotGroup", bodies[0], cbs::as_result);
        CHECK_MESSAGE(r.ec, "unexpected answer: " << json::serialize(r.value));
        CHECK(group_count(e) == 0);  // nothing was created

        only("CreateSnapshotGroup", {.reset_after = 1});
        r = co_await c.async_call("CreateSnapshotGroup", bodies[1], cbs::as_result);
        CHECK_MESSAGE(r.ec, "unexpected answer: " << json::serialize(r.value));
        CHECK(group_count(e) == 1);  // committed, though the client never heard

        only("CreateSnapshotGroup", {.slow = 1});
        r = co_await c.async_call("CreateSnapshotGroup", bodies[2], cbs::as_result);
        CHECK_MESSAGE(r.ec, "unexpected answer: " << json::serialize(r.value));  // the 1 s timeout fired first
        CHECK(group_count(e) == 2);

        e.set_faults({});
        r = co_await c.async_call("CreateSnapshotGroup", bodies[3], cbs::as_result);
        CHECK_FALSE(r.ec);
    });
    std::vector<std::string> faults;
    for (const auto& rec : e.request_log())
        if (!rec.fault.empty()) faults.push_back(rec.fault + ":" + rec.outcome);
    REQUIRE(faults.size() == 35);
    CHECK(faults[0].starts_with("transient:"));
    CHECK(faults[30] == "gateway_502:HTTP 502");
    CHECK(faults[31] == "latency:ok");
    CHECK(faults[32] == "reset_before:reset");
    CHECK(faults[33] == "reset_after:ok");
    CHECK(faults[34] == "slow:ok");
}

TEST_CASE("emulator: the same fault seed gives the same faults") {
    auto sequence = [](std::uint64_t seed) {
        asio::io_context io;
        auto p = params();
        p.faults.seed = seed;
        p.faults.rules = {{"*", {.transient = 0.5}}};
        emu::emulator e(io.get_executor(), p);
        e.start();
        cbs::client c(io.get_executor(), client_for(e));
        run(io, e, [&]() -> asio::awaitable<void> {
            json::object q{{"Limit", 1}};
            for (int i = 0; i < 16; ++i) (void)co_await c.async_call("DescribeDisks", q, cbs::as_result);
        });
        std::string s;
        for (const auto& r : e.request_log()) s += r.outcome + ";";
        return s;
    };
    const auto a = sequence(7);
    CHECK(a == sequence(7));
    CHECK(a != sequence(8));
    CHECK(a.find("ok") != std::string::npos);
    CHECK(a.find("Internal") != std::string::npos);
}

TEST_CASE("emulator: JSONL request log, one flushed line per request, no secret key") {
    const auto dir = std::filesystem::temp_directory_path() / ("cbs-emu-log-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto log = (dir / "requests.jsonl").string();
    std::filesystem::remove(log);
    asio::io_context io;
    auto p = params();
    p.log_file = log;
    emu::emulator e(io.get_executor(), p);
    e.start();
    cbs::client c(io.get_executor(), client_for(e));
    cbs::client bad(io.get_executor(), client_for(e, test_id, "wrong-key"));
    run(io, e, [&]() -> asio::awaitable<void> {
        json::object q{{"Limit", 1}};
        (void)co_await c.async_call("DescribeDisks", q, cbs::as_result);
        // Flushed per line: readable while the emulator runs.
        std::ifstream mid(log);
        std::string first;
        CHECK(std::getline(mid, first));
        (void)co_await bad.async_call("DescribeSnapshotGroups", q, cbs::as_result);
    });
    std::ifstream in(log);
    std::vector<json::object> lines;
    std::string line, all;
    while (std::getline(in, line)) {
        all += line;
        lines.push_back(json::parse(line).as_object());
    }
    REQUIRE(lines.size() == 2);
    CHECK(lines[0].at("action").as_string() == "DescribeDisks");
    CHECK(lines[0].at("outcome").as_string() == "ok");
    CHECK(lines[0].at("secret_id").as_string() == test_id);
    CHECK(lines[0].at("request_id").as_string().size() == 36);
    CHECK(lines[0].at("time_ms").as_int64() > 1'600'000'000'000);
    CHECK(lines[1].at("outcome").as_string() == "AuthFailure.SignatureFailure");
    CHECK(lines[1].at("request_id").as_string() == e.request_log()[1].request_id);
    CHECK(all.find(test_key) == std::string::npos);
    std::filesystem::remove_all(dir);
}

TEST_CASE("emulator: state directory, generated key, reuse of the CA") {
    const auto dir = std::filesystem::temp_directory_path() / ("cbs-emu-state-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::string ca1, tmp_dir;
    {
        asio::io_context io;
        emu::emulator_params p;
        p.fleet.instances = 2;
        emu::emulator e(io.get_executor(), p);
        e.start();
        tmp_dir = e.state_dir();
        CHECK(std::filesystem::exists(e.ca_file()));
        REQUIRE(e.accounts().size() == 1);
        CHECK(e.accounts()[0].secret_id.starts_with("AKID"));
        CHECK(e.accounts()[0].secret_key.size() == 32);
        cbs::client c(io.get_executor(), client_for(e, e.accounts()[0].secret_id, e.accounts()[0].secret_key));
        run(io, e, [&]() -> asio::awaitable<void> {
            json::object q{{"Limit", 1}};
            CHECK_FALSE((co_await c.async_call("DescribeDisks", q, cbs::as_result)).ec);
        });
    }
    CHECK_FALSE(std::filesystem::exists(tmp_dir));  // a temporary state dir is removed
    for (int i = 0; i < 2; ++i) {
        asio::io_context io;
        auto p = params();
        p.state_dir = dir.string();
        emu::emulator e(io.get_executor(), p);
        e.start();
        std::ifstream in(e.ca_file());
        std::string ca((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (i == 0)
            ca1 = ca;
        else
            CHECK(ca == ca1);  // same CA across restarts: exported CBS_CA_FILE stays valid
        e.stop();
        io.run_for(5s);
        CHECK(io.stopped());
    }
    CHECK(std::filesystem::exists(dir / "ca.pem"));
    CHECK((std::filesystem::status(dir / "server-key.pem").permissions() & std::filesystem::perms::others_read) ==
          std::filesystem::perms::none);
    std::filesystem::remove_all(dir);
    asio::io_context io;
    emu::emulator_params bad;
    bad.listen_address = "not-an-ip";
    CHECK_THROWS_AS(emu::emulator(io.get_executor(), bad), std::invalid_argument);
    emu::fault_params too_much;
    too_much.rules = {{"*", {.transient = 0.7, .slow = 0.7}}};
    emu::emulator unstarted(io.get_executor(), emu::emulator_params{});
    CHECK_THROWS_AS(unstarted.set_faults(too_much), std::invalid_argument);
}

TEST_CASE("emulator: stop() ends idle keep-alive connections and pending delays") {
    asio::io_context io;
    auto p = params();
    p.faults.slow_delay = 60s;
    p.faults.rules = {{"DescribeSnapshotGroups", {.slow = 1}}};
    emu::emulator e(io.get_executor(), p);
    e.start();
    auto cp = client_for(e);
    cp.request_timeout = 60s;
    cbs::client c(io.get_executor(), cp);
    cbs::client c2(io.get_executor(), cp);
    const auto t0 = std::chrono::steady_clock::now();
    bool slow_done = false;
    run(io, e, [&]() -> asio::awaitable<void> {
        json::object q{{"Limit", 1}};
        CHECK_FALSE((co_await c.async_call("DescribeDisks", q, cbs::as_result)).ec);  // leaves an idle connection
        asio::co_spawn(
            co_await asio::this_coro::executor,
            [&]() -> asio::awaitable<void> {
                auto r = co_await c2.async_call("DescribeSnapshotGroups", q, cbs::as_result);
                CHECK(r.ec);  // the server went away
                slow_done = true;
            },
            asio::detached);
        asio::steady_timer t(co_await asio::this_coro::executor, 300ms);
        co_await t.async_wait(asio::use_awaitable);
        CHECK(e.connection_count() == 2);
    });
    CHECK(slow_done);
    CHECK(std::chrono::steady_clock::now() - t0 < 10s);
    CHECK(e.connection_count() == 0);
}

TEST_CASE("emulator: serves a multi-threaded io_context") {
    asio::io_context io(4);
    auto p = params();
    p.rate_limits.enabled = false;
    emu::emulator e(io.get_executor(), p);
    e.start();
    auto cp = client_for(e);
    cp.pool.max_size = 8;
    cbs::client c(io.get_executor(), cp);
    std::vector<json::object> bodies(200, json::object{{"Limit", 2}});
    bool done = false;
    auto strand = asio::make_strand(io);
    asio::co_spawn(
        strand,
        [&]() -> asio::awaitable<void> {
            auto rs = co_await concurrently(c, "DescribeDisks", bodies);
            CHECK(count_code(rs, "") == 200);
            done = true;
        },
        [&](std::exception_ptr ex) {
            e.stop();
            if (ex) std::rethrow_exception(ex);
        });
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; ++i) threads.emplace_back([&] { io.run_for(30s); });
    io.run_for(30s);
    for (auto& t : threads) t.join();
    CHECK(done);
    CHECK(e.request_log().size() == 200);
}
