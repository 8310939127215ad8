// resolve_timeout holds even when the lookup itself stalls: the
// connection's lookup runs on a background thread (detail::async_resolve_bounded),
// so a stalled name fails the attempt on time, cancellation ends the wait at
// once, and the io_context runs out of work while the lookup is still stuck.
// The stalled lookup is a test resolve function blocked on a gate that the test
// opens at the end (and waits for the lookup thread to finish).
#include "support/pki.hpp"
#include "support/scripted_server.hpp"

#include <cbs/detail/bounded_resolve.hpp>
#include <cbs/detail/connection_pool.hpp>
#include <cbs/detail/http_connection.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace asio = boost::asio;
namespace t = cbs::test;
using namespace std::chrono_literals;
using asio::ip::tcp;
using cbs::client_errc;
using cbs::error_code;
using clk = std::chrono::steady_clock;

namespace {

// A gate the stalled lookup waits on. Opened at the end of each test.
std::mutex gate_m;
std::condition_variable gate_cv;
bool gate_open = false;
std::atomic<int> stalled_calls{0};

error_code stalled_resolve(const std::string&, std::uint16_t, std::vector<tcp::endpoint>&) {
    ++stalled_calls;
    std::unique_lock l(gate_m);
    gate_cv.wait(l, [] { return gate_open; });
    return asio::error::host_not_found_try_again;
}

// Answers 127.0.0.1:port after 100 ms.
error_code slow_loopback_resolve(const std::string&, std::uint16_t port, std::vector<tcp::endpoint>& out) {
    std::this_thread::sleep_for(100ms);
    out.emplace_back(asio::ip::make_address_v4("127.0.0.1"), port);
    return {};
}

struct gate_guard {
    gate_guard() {
        std::lock_guard l(gate_m);
        gate_open = false;
        stalled_calls = 0;
    }
    // Opens the gate and waits (bounded) for every lookup thread to end, so
    // no thread outlives the test's statics.
    ~gate_guard() {
        {
            std::lock_guard l(gate_m);
            gate_open = true;
        }
        gate_cv.notify_all();
        for (int i = 0; i < 500 && cbs::detail::resolves_running() > 0; ++i) std::this_thread::sleep_for(10ms);
        CHECK(cbs::detail::resolves_running() == 0);
    }
};

cbs::endpoint stalled_endpoint() {
    cbs::endpoint ep;
    ep.host = "stalled.example";
    ep.port = 443;
    return ep;
}

}  // namespace

TEST_CASE("resolve: a lookup that never answers fails within resolve_timeout + 10%; the io_context ends") {
    gate_guard gate;
    asio::io_context io;
    cbs::pool_params p;
    p.resolve_timeout = 1s;
    auto tls = cbs::detail::make_tls_context(p);
    cbs::detail::http_connection conn(io.get_executor(), tls);
    conn.set_resolve_function(&stalled_resolve);
    error_code ec;
    cbs::diagnostics diag;
    clk::duration took{};
    bool done = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            const auto t0 = clk::now();
            ec = co_await conn.async_connect(stalled_endpoint(), p, diag);
            took = clk::now() - t0;
            done = true;
        },
        asio::detached);
    io.run_for(20s);
    REQUIRE(done);
    CHECK(io.stopped());  // no work left although the lookup is still stuck
    CHECK(ec == client_errc::resolve_timeout);
    CHECK(diag.client_message.find("resolving stalled.example:443") != std::string::npos);
    MESSAGE("resolve_timeout 1000 ms, failed after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
    CHECK(took >= 1s);
    CHECK(took <= 1100ms);
    CHECK(stalled_calls == 1);
    CHECK(cbs::detail::resolves_running() == 1);  // the lookup goes on, unwaited for
}

TEST_CASE("resolve: cancelling the call during a stalled lookup ends it at once") {
    gate_guard gate;
    asio::io_context io;
    cbs::pool_params p;
    p.resolve_timeout = 30s;
    auto tls = cbs::detail::make_tls_context(p);
    cbs::detail::http_connection conn(io.get_executor(), tls);
    conn.set_resolve_function(&stalled_resolve);
    asio::cancellation_signal cancel;
    error_code ec;
    cbs::diagnostics diag;
    clk::time_point cancelled_at{}, ended_at{};
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            co_await asio::this_coro::throw_if_cancelled(false);
            ec = co_await conn.async_connect(stalled_endpoint(), p, diag);
            ended_at = clk::now();
        },
        asio::bind_cancellation_slot(cancel.slot(), asio::detached));
    asio::steady_timer later(io, 100ms);
    later.async_wait([&](const boost::system::error_code&) {
        cancelled_at = clk::now();
        cancel.emit(asio::cancellation_type::terminal);
    });
    io.run_for(20s);
    CHECK(io.stopped());
    CHECK(ec == client_errc::cancelled);
    CHECK(diag.client_message.find("cancelled while resolving") != std::string::npos);
    REQUIRE(ended_at != clk::time_point{});
    MESSAGE("ended " << std::chrono::duration_cast<std::chrono::milliseconds>(ended_at - cancelled_at).count()
                     << " ms after the cancellation");
    CHECK(ended_at - cancelled_at < 500ms);  // not the 30 s resolve_timeout
}

TEST_CASE("resolve: overlapping lookups of one stalled name share one lookup thread") {
    gate_guard gate;
    asio::io_context io;
    cbs::pool_params p;
    p.resolve_timeout = 200ms;
    auto tls = cbs::detail::make_tls_context(p);
    std::vector<std::unique_ptr<cbs::detail::http_connection>> conns;
    int timed_out = 0;
    for (int i = 0; i < 4; ++i) {
        conns.push_back(std::make_unique<cbs::detail::http_connection>(io.get_executor(), tls));
        conns.back()->set_resolve_function(&stalled_resolve);
        asio::co_spawn(
            io,
            [&, c = conns.back().get()]() -> asio::awaitable<void> {
                cbs::diagnostics diag;
                auto ec = co_await c->async_connect(stalled_endpoint(), p, diag);
                if (ec == client_errc::resolve_timeout) ++timed_out;
            },
            asio::detached);
    }
    io.run_for(20s);
    CHECK(io.stopped());
    CHECK(timed_out == 4);
    CHECK(stalled_calls == 1);
    CHECK(cbs::detail::resolves_running() == 1);
}

TEST_CASE("resolve: an answer within resolve_timeout is used") {
    asio::io_context io;
    t::scripted_server server(io.get_executor());
    server.add_connection({t::handshake(), t::stall()});
    cbs::pool_params p;
    p.resolve_timeout = 5s;
    p.ca_file = t::default_pki().write_ca_file();
    auto tls = cbs::detail::make_tls_context(p);
    cbs::detail::http_connection conn(io.get_executor(), tls);
    conn.set_resolve_function(&slow_loopback_resolve);
    cbs::endpoint ep;
    ep.host = "localhost";  // the name the test certificate carries
    ep.port = server.port();
    error_code ec{client_errc::invalid_config};
    cbs::diagnostics diag;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            ec = co_await conn.async_connect(ep, p, diag);
            conn.close();
            server.stop();
        },
        asio::detached);
    io.run_for(20s);
    CHECK(io.stopped());
    CHECK_FALSE(ec);
    CHECK(server.connections_accepted() == 1);  // reached through the address the lookup gave
    for (int i = 0; i < 100 && cbs::detail::resolves_running() > 0; ++i) std::this_thread::sleep_for(10ms);
    CHECK(cbs::detail::resolves_running() == 0);
}
