// The emulator's gateway side made as hard as the service: delays drawn per
// request, the RequestLimitExceeded sub-codes (retried by the real client as
// throttles), several keys with their own or shared rate windows, and the
// accept loop backing off when out of file descriptors. Every assertion reads
// the emulator's own request log or counters.
#include "support/run_to_end.hpp"

#include <cbs/client.hpp>
#include <cbs/emulator/emulator.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json/object.hpp>

#include <doctest/doctest.h>

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>

namespace asio = boost::asio;
namespace json = boost::json;
namespace emu = cbs::emu;
using namespace std::chrono_literals;

namespace {

emu::emulator_params small_fleet() {
    emu::emulator_params p;
    p.fleet.instances = 4;
    p.accounts = {{"AKIDGATEWAYONE", "gateway-key-one", ""},
                  {"AKIDGATEWAYTWO", "gateway-key-two", ""},
                  {"AKIDGATEWAYOTHER", "gateway-key-other", ""}};
    p.accounts[0].uin = "100001";
    p.accounts[1].uin = "100001";
    p.accounts[2].uin = "200002";
    return p;
}

cbs::client_params client_for(const emu::emulator& e, const emu::account& a) {
    cbs::client_params p;
    p.endpoint = e.endpoint();
    p.pool.ca_file = e.ca_file();
    p.creds = {a.secret_id, a.secret_key, "", "explicit"};
    p.request_timeout = 5s;
    p.rate_limit = false;  // the server's limits are under test
    p.retry.throttle_max_attempts = p.retry.transient_max_attempts = p.retry.network_max_attempts =
        p.retry.busy_max_attempts = 1;
    return p;
}

template <class F>
void run(asio::io_context& io, emu::emulator& e, F body) {
    cbs::test::run_to_end(
        io, [&] { e.stop(); }, std::move(body), 30s);
}

/// A steady clock that moves by `step` each time the gateway reads it (once
/// per request): rate windows then depend on the request order only, not on
/// how fast the machine is.
std::function<emu::clock::time_point()> stepping_clock(std::chrono::milliseconds step) {
    auto t = std::make_shared<emu::clock::time_point>(emu::clock::now());
    return [t, step] { return *t += step; };
}

}  // namespace

TEST_CASE("emulator gateway: delay ranges and shapes") {
    emu::fault_params f;
    CHECK(emu::latency_range(f) == std::pair{200ms, 400ms});
    CHECK(emu::slow_range(f) == std::pair{17'500ms, 35'000ms});
    f.slow_delay = 2500ms;  // the wire-rate test's setting: half a second's spread at least
    CHECK(emu::slow_range(f) == std::pair{1250ms, 2500ms});
    f.slow_delay_min = 500ms;
    f.latency_max = 200ms;
    CHECK(emu::slow_range(f) == std::pair{500ms, 2500ms});
    CHECK(emu::latency_range(f) == std::pair{200ms, 200ms});

    std::mt19937_64 rng(3);
    CHECK(emu::draw_delay(rng, 10ms, 90ms, emu::delay_shape::fixed) == 90ms);
    CHECK(emu::draw_delay(rng, 40ms, 40ms, emu::delay_shape::uniform) == 40ms);
    std::vector<std::chrono::milliseconds> uni, tail;
    for (int i = 0; i < 2000; ++i) {
        uni.push_back(emu::draw_delay(rng, 100ms, 900ms, emu::delay_shape::uniform));
        tail.push_back(emu::draw_delay(rng, 100ms, 900ms, emu::delay_shape::long_tail));
    }
    std::sort(uni.begin(), uni.end());
    std::sort(tail.begin(), tail.end());
    CHECK(uni.front() >= 100ms);
    CHECK(uni.back() <= 900ms);
    CHECK(tail.front() >= 100ms);
    CHECK(tail.back() <= 900ms);
    // Uniform: median near the middle. Long tail: median near the lowest
    // eighth (200 ms), yet a tenth above 73 % of the range (684 ms).
    CHECK(uni[1000] > 440ms);
    CHECK(uni[1000] < 560ms);
    CHECK(tail[1000] < 260ms);
    CHECK(tail[1800] > 600ms);
}

TEST_CASE("emulator gateway: slow and latency delays are drawn per request, seeded, and logged") {
    auto delays = [](std::uint64_t seed) {
        asio::io_context io;
        auto p = small_fleet();
        p.rate_limits.enabled = false;
        p.faults.seed = seed;
        p.faults.latency = 2ms;
        p.faults.latency_max = 30ms;
        p.faults.latency_shape = emu::delay_shape::uniform;
        p.faults.slow_delay = 40ms;  // slow_delay_min unset: 20 ms
        p.faults.rules["DescribeDisks"] = {.latency = 1};
        p.faults.rules["DescribeSnapshotGroups"] = {.slow = 1};
        emu::emulator e(io.get_executor(), p);
        e.start();
        cbs::client c(io.get_executor(), client_for(e, p.accounts[0]));
        run(io, e, [&]() -> asio::awaitable<void> {
            for (int i = 0; i < 30; ++i) {
                CHECK_FALSE((co_await c.async_call("DescribeDisks", {}, cbs::as_result)).ec);
                CHECK_FALSE((co_await c.async_call("DescribeSnapshotGroups", {}, cbs::as_result)).ec);
            }
        });
        std::vector<std::int64_t> out;
        std::set<std::int64_t> lat, slow;
        for (const auto& r : e.request_log()) {
            out.push_back(r.delay_ms);
            if (r.action == "DescribeDisks") {
                CHECK(r.fault == "latency");
                CHECK(r.delay_ms >= 2);
                CHECK(r.delay_ms <= 30);
                lat.insert(r.delay_ms);
            } else {
                CHECK(r.fault == "slow");
                CHECK(r.delay_ms >= 20);
                CHECK(r.delay_ms <= 40);
                slow.insert(r.delay_ms);
            }
        }
        CHECK(out.size() == 60);
        CHECK(lat.size() >= 8);  // a spread, not one fixed value
        CHECK(slow.size() >= 8);
        return out;
    };
    const auto a = delays(5);
    CHECK(a == delays(5));
    CHECK(a != delays(6));
}

TEST_CASE("emulator gateway: every RequestLimitExceeded sub-code is retried by the client as a throttle") {
    asio::io_context io;
    auto p = small_fleet();
    p.rate_limits.overrides = {{"DescribeDisks", 1}};
    p.rate_limits.window = 100ms;
    // Half a window per request: A admitted, B refused (A is in its window),
    // B's retry admitted (A has left it), then a call of another action so
    // the next A finds the window empty; whatever the machine's speed.
    p.steady_now = stepping_clock(50ms);
    emu::emulator e(io.get_executor(), p);
    e.start();
    auto cp = client_for(e, p.accounts[0]);
    cp.retry.throttle_max_attempts = 3;
    cp.retry.throttle_base = 20ms;
    cp.retry.throttle_cap = 50ms;
    cbs::client c(io.get_executor(), cp);
    const std::vector<std::string> codes = {"RequestLimitExceeded", "RequestLimitExceeded.UinLimitExceeded",
                                            "RequestLimitExceeded.IPLimitExceeded",
                                            "RequestLimitExceeded.GlobalRegionUinLimitExceeded"};
    std::vector<cbs::result<json::object>> retried;
    run(io, e, [&]() -> asio::awaitable<void> {
        for (const auto& code : codes) {
            emu::rate_limit_params r = p.rate_limits;
            r.throttle_codes = {{code, 1}};
            e.set_rate_limits(r);
            auto a = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
            CHECK_FALSE(a.ec);
            retried.push_back(co_await c.async_call("DescribeDisks", {}, cbs::as_result));
            CHECK_FALSE((co_await c.async_call("DescribeSnapshotGroups", {}, cbs::as_result)).ec);
        }
    });
    std::map<std::string, emu::request_record> by_id;
    for (const auto& r : e.request_log()) by_id[r.request_id] = r;
    CHECK(by_id.size() == 16);
    REQUIRE(retried.size() == codes.size());
    for (std::size_t i = 0; i < codes.size(); ++i) {
        CAPTURE(codes[i]);
        const auto& b = retried[i];
        CHECK_FALSE(b.ec);
        REQUIRE(b.diag.request_ids.size() == 2);
        CHECK(b.diag.attempts == 2);
        const auto& first = by_id[b.diag.request_ids[0]];
        const auto& second = by_id[b.diag.request_ids[1]];
        CHECK(first.outcome == codes[i]);
        CHECK(first.throttled);
        CHECK(second.outcome == "ok");
        CHECK_FALSE(second.throttled);
    }
}

TEST_CASE("emulator gateway: the default refusal codes are a seeded mix of the family") {
    auto refusals = [](std::uint64_t seed) {
        asio::io_context io;
        auto p = small_fleet();
        p.rate_limits.overrides = {{"DescribeDisks", 1}};
        p.rate_limits.seed = seed;
        p.steady_now = [t = emu::clock::now()] { return t; };  // frozen: one window, all refused but the first
        emu::emulator e(io.get_executor(), p);
        e.start();
        cbs::client c(io.get_executor(), client_for(e, p.accounts[0]));
        run(io, e, [&]() -> asio::awaitable<void> {
            for (int i = 0; i < 81; ++i) (void)co_await c.async_call("DescribeDisks", {}, cbs::as_result);
        });
        std::vector<std::string> out;
        for (const auto& r : e.request_log())
            if (r.throttled) out.push_back(r.outcome);
        return out;
    };
    const auto a = refusals(1);
    REQUIRE(a.size() == 80);
    std::map<std::string, int> n;
    for (const auto& code : a) ++n[code];
    CHECK(n.size() == 4);
    for (const auto& [code, count] : n) {
        CAPTURE(code);
        CHECK(code.starts_with("RequestLimitExceeded"));
        CHECK(count >= 2);
    }
    CHECK(n["RequestLimitExceeded"] > n["RequestLimitExceeded.GlobalRegionUinLimitExceeded"]);
    CHECK(a == refusals(1));
    CHECK(a != refusals(2));
}

TEST_CASE("emulator gateway: each key has its own full window, or shares its account's") {
    for (auto scope : {emu::rate_scope::secret_id, emu::rate_scope::account}) {
        CAPTURE(static_cast<int>(scope));
        asio::io_context io;
        auto p = small_fleet();
        p.rate_limits.overrides = {{"DescribeSnapshotGroups", 5}};
        p.rate_limits.scope = scope;
        p.steady_now = [t = emu::clock::now()] { return t; };  // one window for the whole test
        emu::emulator e(io.get_executor(), p);
        e.start();
        cbs::client one(io.get_executor(), client_for(e, p.accounts[0]));
        cbs::client two(io.get_executor(), client_for(e, p.accounts[1]));
        cbs::client other(io.get_executor(), client_for(e, p.accounts[2]));
        run(io, e, [&]() -> asio::awaitable<void> {
            for (int i = 0; i < 7; ++i) {
                (void)co_await one.async_call("DescribeSnapshotGroups", {}, cbs::as_result);
                (void)co_await two.async_call("DescribeSnapshotGroups", {}, cbs::as_result);
                (void)co_await other.async_call("DescribeSnapshotGroups", {}, cbs::as_result);
            }
        });
        std::map<std::string, int> ok, refused;
        for (const auto& r : e.request_log()) {
            if (r.outcome == "ok") ++ok[r.secret_id];
            if (r.throttled) ++refused[r.secret_id];
        }
        const auto &id1 = p.accounts[0].secret_id, &id2 = p.accounts[1].secret_id, &id3 = p.accounts[2].secret_id;
        if (scope == emu::rate_scope::secret_id) {
            CHECK(ok[id1] == 5);
            CHECK(ok[id2] == 5);
            CHECK(refused[id1] == 2);
            CHECK(refused[id2] == 2);
        } else {
            // Alternating, the two keys of account 100001 share one window of 5.
            CHECK(ok[id1] + ok[id2] == 5);
            CHECK(ok[id1] == 3);
            CHECK(refused[id1] + refused[id2] == 9);
        }
        // The key of another account is never affected.
        CHECK(ok[id3] == 5);
        CHECK(refused[id3] == 2);
    }
}

TEST_CASE("emulator gateway: bad rate and delay settings are refused naming the field") {
    asio::io_context io;
    auto p = small_fleet();
    p.rate_limits.throttle_codes = {{"LimitExceeded", 1}};
    CHECK_THROWS_WITH_AS(emu::emulator(io.get_executor(), p), doctest::Contains("throttle_codes"),
                         std::invalid_argument);
    p = small_fleet();
    p.faults.latency_max = 100ms;
    p.faults.latency = 200ms;
    CHECK_THROWS_WITH_AS(emu::emulator(io.get_executor(), p), doctest::Contains("latency_max"), std::invalid_argument);
    p = small_fleet();
    p.faults.slow_delay_min = 3s;
    p.faults.slow_delay = 2s;
    CHECK_THROWS_WITH_AS(emu::emulator(io.get_executor(), p), doctest::Contains("slow_delay_min"),
                         std::invalid_argument);
    p = small_fleet();
    p.accounts.push_back(p.accounts[0]);
    CHECK_THROWS_WITH_AS(emu::emulator(io.get_executor(), p), doctest::Contains("given twice"), std::invalid_argument);
    p = small_fleet();
    emu::emulator e(io.get_executor(), p);
    emu::rate_limit_params r;
    r.throttle_codes = {{"RequestLimitExceeded", 0}};
    CHECK_THROWS_AS(e.set_rate_limits(r), std::invalid_argument);
}

TEST_CASE("emulator gateway: parse_accounts") {
    const auto a = emu::parse_accounts("AKIDA:keyA, 100001/AKIDB:keyB:tok\n# a comment\n\n 100001/AKIDC:keyC \r\n");
    REQUIRE(a.size() == 3);
    CHECK(a[0].secret_id == "AKIDA");
    CHECK(a[0].secret_key == "keyA");
    CHECK(a[0].uin.empty());
    CHECK(a[1].uin == "100001");
    CHECK(a[1].secret_id == "AKIDB");
    CHECK(a[1].token == "tok");
    CHECK(a[2].secret_key == "keyC");
    for (const char* bad : {"AKIDA", "AKIDA:", ":key", "/AKIDA:key", "AKIDA:key:", "AKIDA:k ey", "AKIDA:x,AKIDA:y"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(emu::parse_accounts(bad), std::invalid_argument);
    }
    try {
        emu::parse_accounts("AKIDA:fine,AKIDB:secret-value:");
        FAIL("accepted");
    } catch (const std::invalid_argument& e) {
        const std::string m = e.what();
        CHECK(m.find("entry 2") != std::string::npos);
        CHECK(m.find("AKIDB") != std::string::npos);
        CHECK(m.find("secret-value") == std::string::npos);  // never the key
    }
}

TEST_CASE("emulator gateway: out of file descriptors, the accept loop backs off instead of spinning") {
    asio::io_context io;
    auto p = small_fleet();
    std::vector<std::string> notices;
    p.notice = [&](const std::string& n) { notices.push_back(n); };
    emu::emulator e(io.get_executor(), p);
    e.start();
    // One turn of the scheduler before the limit. Under UBSan, the first
    // virtual call through a type (the reactor, as scheduler_task) is checked
    // by testing the memory with a pipe; with no descriptor left that check
    // fails and reports a bogus "invalid vptr". A turn now caches the type.
    io.run_for(10ms);
    io.restart();
    // Connected before the limit: they wait in the listen queue, so every
    // accept finds one and fails with EMFILE for as long as the limit holds.
    std::vector<asio::ip::tcp::socket> clients;
    for (int i = 0; i < 3; ++i) {
        clients.emplace_back(io);
        clients.back().connect({asio::ip::make_address("127.0.0.1"), e.port()});
    }
    rlimit saved{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
    rlimit low = saved;
    low.rlim_cur = 3;  // below what is open: no new descriptor at all
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
    rusage before{}, after{};
    ::getrusage(RUSAGE_SELF, &before);
    io.run_for(1s);
    ::getrusage(RUSAGE_SELF, &after);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
    const auto failures = e.accept_failures();
    auto cpu_ms = [](const rusage& r) {
        return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1000.0 + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1000.0;
    };
    MESSAGE("failed accepts in 1 s: " << failures << ", CPU " << cpu_ms(after) - cpu_ms(before) << " ms");
    // 50 ms doubling to 200 ms: 1 + 50, 100, 200, 200, 200, 200 ms... about 7
    // attempts in a second; a loop retrying at once makes thousands.
    CHECK(failures >= 2);
    CHECK(failures <= 12);
    REQUIRE(notices.size() == 1);
    CHECK(notices[0].find("accept failed") != std::string::npos);
    // The limit lifted: the queued connections are accepted within a back-off.
    io.restart();
    io.run_for(400ms);
    CHECK(e.connection_count() == 3);
    REQUIRE(notices.size() == 2);
    CHECK(notices[1].find("accepting again") != std::string::npos);
    for (auto& s : clients) s.close();
    e.stop();
    io.restart();
    io.run_for(5s);
    CHECK(io.stopped());
}
