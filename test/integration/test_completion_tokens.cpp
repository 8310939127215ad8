// The client's operations with every kind of completion token, against the
// emulator: callbacks (with and without a diagnostics object), use_future,
// deferred, as_tuple, experimental::use_promise, cbs::as_result and the
// default use_awaitable; the handler's own executor; per-operation and
// client-wide cancellation; a client moved with a call in flight. What the
// service did is read from the emulator's request log, not the client.
#include "support/emulator_harness.hpp"

#include <cbs/client.hpp>
#include <cbs/fleet.hpp>
#include <cbs/paginate.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/promise.hpp>
#include <boost/asio/experimental/use_promise.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <thread>

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

std::size_t count_action(const cbs::emu::emulator& e, std::string_view action) {
    std::size_t n = 0;
    for (const auto& r : e.request_log())
        if (r.action == action) ++n;
    return n;
}

/// One disk of the emulated fleet.
std::string first_disk(cbs::emu::emulator& e) {
    std::string id;
    e.inspect([&](cbs::emu::fleet_state& f) { id = f.disks_of(f.instance_ids().at(0)).at(0).disk_id; });
    return id;
}

/// A started emulator.
struct started {
    cbs::emu::emulator e;
    started(asio::io_context& io, cbs::emu::emulator_params p) : e(io.get_executor(), std::move(p)) { e.start(); }
};

/// An io_context, a started emulator and a client of it.
struct fixture {
    asio::io_context io;
    started s;
    cbs::client c;
    explicit fixture(cbs::emu::emulator_params p = cbs::test::harness_params(2))
        : s(io, std::move(p)), c(io.get_executor(), cbs::test::harness_client(s.e)) {}
};

}  // namespace

TEST_CASE("tokens: a callback gets the response and the diagnostics, on the client's executor") {
    fixture f;
    auto& io = f.io;
    auto& e = f.s.e;
    auto& c = f.c;
    cbs::diagnostics diag;
    std::optional<cbs::error_code> got;
    std::string group;
    c.async_create_snapshot_group({.disk_ids = {first_disk(e)}}, {}, diag,
                                  [&](cbs::error_code ec, cbs::create_snapshot_group_response r) {
                                      got = ec;
                                      group = r.snapshot_group_id;
                                      e.stop();
                                  });
    CHECK_FALSE(got);  // never completed inside the initiating call
    io.run_for(20s);
    REQUIRE(got);
    CHECK_FALSE(*got);
    CHECK_FALSE(group.empty());
    CHECK_FALSE(diag.request_id.empty());
    CHECK(diag.attempts == 1);
    CHECK(count_action(e, "CreateSnapshotGroup") == 1);
}

TEST_CASE("tokens: a request that fails validation completes through the handler and sends nothing") {
    fixture f;
    auto& io = f.io;
    auto& e = f.s.e;
    auto& c = f.c;
    cbs::diagnostics diag;
    std::optional<cbs::error_code> got;
    c.async_create_snapshot_group({.disk_ids = {}}, {}, diag, [&](cbs::error_code ec, auto) {
        got = ec;
        e.stop();
    });
    CHECK_FALSE(got);
    io.run_for(10s);
    REQUIRE(got);
    CHECK(*got == cbs::client_errc::invalid_request);
    CHECK_FALSE(diag.client_message.empty());
    CHECK(count_action(e, "CreateSnapshotGroup") == 0);
}

TEST_CASE("tokens: the handler runs on its own associated executor") {
    fixture f;
    auto& io = f.io;
    auto& e = f.s.e;
    auto& c = f.c;
    auto mine = asio::make_strand(io);
    bool on_mine = false, called = false;
    c.async_call("DescribeDisks", json::object{}, asio::bind_executor(mine, [&](cbs::error_code ec, json::object) {
                     called = true;
                     on_mine = !ec && mine.running_in_this_thread();
                     e.stop();
                 }));
    io.run_for(10s);
    CHECK(called);
    CHECK(on_mine);
}

TEST_CASE("tokens: use_future from another thread; a failure is a system_error with the code") {
    asio::io_context io;
    started s(io, cbs::test::harness_params(2));
    auto& e = s.e;
    auto bad = cbs::test::harness_client(e);
    bad.creds.secret_key = "not-the-key";
    cbs::client c(io.get_executor(), cbs::test::harness_client(e));
    cbs::client wrong(io.get_executor(), bad);
    auto guard = asio::make_work_guard(io);
    std::thread t([&] { io.run(); });

    auto ok = c.async_call("DescribeDisks", json::object{}, asio::use_future);
    auto disks = ok.get();
    CHECK(disks.at("TotalCount").as_int64() > 0);

    auto fails = wrong.async_call("DescribeDisks", json::object{}, asio::use_future);
    try {
        fails.get();
        FAIL("expected an exception");
    } catch (const boost::system::system_error& ex) {
        CHECK(ex.code() == cbs::api_errc::auth_signature_failure);
    }
    asio::post(io, [&] { e.stop(); });
    guard.reset();
    t.join();
}

TEST_CASE("tokens: deferred, as_tuple, use_promise, as_result and the default token") {
    fixture f(cbs::test::harness_params(3));
    auto& io = f.io;
    auto& e = f.s.e;
    auto& c = f.c;
    auto bad_params = cbs::test::harness_client(e);
    bad_params.creds.secret_key = "not-the-key";
    cbs::client wrong(io.get_executor(), bad_params);
    cbs::test::run_emulator_test(io, e, [&]() -> asio::awaitable<void> {
        // deferred: nothing is sent until the deferred operation is launched.
        // (requests are named, not braced temporaries: GCC 12 relocates a
        // braced temporary passed by value inside a co_await expression
        // with memcpy, which breaks short std::strings)
        const cbs::describe_disks_request every;
        auto op = c.async_invoke(every, asio::deferred);
        CHECK(count_action(e, "DescribeDisks") == 0);
        auto disks = co_await std::move(op)(asio::use_awaitable);
        CHECK(disks.total_count == disks.disk_set.size());
        CHECK(disks.disk_set.size() > 1);
        CHECK(count_action(e, "DescribeDisks") == 1);

        // as_tuple: the error code as a value.
        auto refused = co_await wrong.async_call("DescribeDisks", json::object{}, asio::as_tuple(asio::use_awaitable));
        CHECK(std::get<0>(refused) == cbs::api_errc::auth_signature_failure);
        CHECK(std::get<1>(refused).empty());

        // use_promise: started at once, awaited later. Awaited once it has
        // completed: Boost 1.81's promise hands a waiter that attached before
        // completion moved-from values (it moves them into its own storage
        // first), whichever operation it wraps.
        auto promise = c.async_call("DescribeSnapshotGroups", json::object{}, asio::experimental::use_promise);
        asio::steady_timer poll(io);
        while (!promise.completed()) {
            poll.expires_after(5ms);
            co_await poll.async_wait(asio::use_awaitable);
        }
        auto groups = co_await promise(asio::as_tuple(asio::use_awaitable));
        CHECK_FALSE(std::get<0>(groups));
        CHECK(std::get<1>(groups).contains("TotalCount"));

        // as_result: code, diagnostics and value; never throws.
        cbs::create_snapshot_group_request one{.disk_ids = {first_disk(e)}};
        auto r = co_await wrong.async_create_snapshot_group(std::move(one), cbs::as_result);
        CHECK(r.ec == cbs::api_errc::auth_signature_failure);
        CHECK(r.diag.server_code == "AuthFailure.SignatureFailure");
        CHECK_FALSE(r.diag.request_id.empty());

        // The default token throws cbs::error, which carries the diagnostics.
        bool threw = false;
        try {
            co_await wrong.async_call("DescribeDisks", json::object{});
        } catch (const cbs::error& ex) {
            threw = true;
            CHECK(ex.code() == cbs::api_errc::auth_signature_failure);
            CHECK_FALSE(ex.diag().request_id.empty());
        }
        CHECK(threw);

        // Paging takes the same tokens.
        auto all = co_await cbs::async_describe_all_disks(c, every, cbs::as_result);
        CHECK_FALSE(all.ec);
        CHECK(all.value.size() == disks.disk_set.size());
        auto again = co_await cbs::async_describe_all_disks(c, every, asio::as_tuple(asio::use_awaitable));
        CHECK_FALSE(std::get<0>(again));
        CHECK(std::get<1>(again).size() == disks.disk_set.size());
    });
    CHECK(count_action(e, "CreateSnapshotGroup") == 1);  // the refused one, answered AuthFailure
}

namespace {

/// Emulator params whose DescribeDisks answers take `delay`.
cbs::emu::emulator_params slow_describe(std::chrono::milliseconds delay) {
    auto p = cbs::test::harness_params(2);
    p.faults.rules["DescribeDisks"].latency = 1.0;
    p.faults.latency = delay;
    p.faults.latency_max = delay;
    return p;
}

}  // namespace

TEST_CASE("tokens: per-operation cancellation of a callback completes it with cancelled") {
    fixture f(slow_describe(3s));
    auto& io = f.io;
    auto& e = f.s.e;
    auto& c = f.c;
    asio::cancellation_signal sig;
    std::optional<cbs::error_code> got;
    const auto start = std::chrono::steady_clock::now();
    c.async_call("DescribeDisks", json::object{},
                 asio::bind_cancellation_slot(sig.slot(), [&](cbs::error_code ec, json::object) {
                     got = ec;
                     e.stop();
                 }));
    asio::steady_timer t(io, 200ms);
    t.async_wait([&](auto) { sig.emit(asio::cancellation_type::terminal); });
    io.run_for(20s);
    REQUIRE(got);
    CHECK(*got == cbs::client_errc::cancelled);
    CHECK(std::chrono::steady_clock::now() - start < 2s);  // not the 3 s answer
}

TEST_CASE("tokens: client.cancel() completes every call in flight with cancelled") {
    fixture f(slow_describe(3s));
    auto& io = f.io;
    auto& e = f.s.e;
    auto& c = f.c;
    int done = 0, cancelled = 0;
    for (int i = 0; i < 5; ++i)
        c.async_call("DescribeDisks", json::object{}, [&](cbs::error_code ec, json::object) {
            ++done;
            if (ec == cbs::client_errc::cancelled) ++cancelled;
            if (done == 5) e.stop();
        });
    asio::steady_timer t(io, 200ms);
    t.async_wait([&](auto) { c.cancel(); });
    const auto start = std::chrono::steady_clock::now();
    io.run_for(20s);
    CHECK(done == 5);
    CHECK(cancelled == 5);
    CHECK(std::chrono::steady_clock::now() - start < 2s);
}

TEST_CASE("tokens: a client moved with a call in flight completes it; cancel() after the calls is a no-op") {
    asio::io_context io;
    started s(io, cbs::test::harness_params(2));
    auto& e = s.e;
    std::optional<cbs::client> first;
    first.emplace(io.get_executor(), cbs::test::harness_client(e));
    std::optional<cbs::error_code> got;
    first->async_call("DescribeDisks", json::object{}, [&](cbs::error_code ec, json::object) { got = ec; });
    cbs::client moved(std::move(*first));
    first.reset();  // the moved-from client may be destroyed
    io.run_for(10s);
    io.restart();
    REQUIRE(got);
    CHECK_FALSE(*got);
    moved.cancel();
    cbs::test::run_emulator_test(io, e, [&]() -> asio::awaitable<void> {
        auto r = co_await moved.async_call("DescribeDisks", json::object{}, cbs::as_result);
        CHECK_FALSE(r.ec);
    });
}

TEST_CASE("tokens: async_snapshot_fleet with a callback, and a bad run id through as_result") {
    fixture f(cbs::test::harness_params(3));
    auto& io = f.io;
    auto& e = f.s.e;
    auto& c = f.c;
    cbs::fleet_params fp;
    fp.all_instances = true;
    fp.run_id = "r1";
    fp.consistency_window = 1s;
    std::optional<cbs::error_code> got;
    cbs::fleet_report report;
    cbs::async_snapshot_fleet(c, fp, {}, [&](cbs::error_code ec, cbs::fleet_report r) {
        got = ec;
        report = std::move(r);
        e.stop();
    });
    io.run_for(60s);
    REQUIRE(got);
    CHECK_FALSE(*got);
    CHECK(report.summary.instances == 3);
    CHECK(report.summary.normal == 3);
    CHECK(count_action(e, "CreateSnapshotGroup") == 3);

    io.restart();
    started s2(io, cbs::test::harness_params(1));
    cbs::client c2(io.get_executor(), cbs::test::harness_client(s2.e));
    cbs::test::run_emulator_test(io, s2.e, [&]() -> asio::awaitable<void> {
        cbs::fleet_params bad;
        bad.all_instances = true;  // no run id
        const cbs::fleet_progress quiet;
        auto r = co_await cbs::async_snapshot_fleet(c2, bad, quiet, cbs::as_result);
        CHECK(r.ec == cbs::client_errc::invalid_request);
        CHECK(r.diag.client_message.find("run") != std::string::npos);
    });
    CHECK(count_action(s2.e, "CreateSnapshotGroup") == 0);
}
