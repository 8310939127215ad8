// The emulator stopped and destroyed while answers are still delayed (slow
// and latency faults) and calls are in flight: no crash, no leak, the
// clients get errors, not hangs.
#include <cbs/client.hpp>
#include <cbs/emulator/emulator.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <doctest/doctest.h>

#include <thread>

namespace asio = boost::asio;
namespace emu = cbs::emu;
using namespace std::chrono_literals;

TEST_CASE("emulator: destroyed with delayed answers and calls in flight") {
    for (bool own_thread : {false, true}) {
        CAPTURE(own_thread);
        asio::io_context server_io, client_io;
        emu::emulator_params ep;
        ep.fleet.instances = 5;
        ep.rate_limits.enabled = false;
        emu::fault_rule delayed;
        delayed.slow = 0.5;
        delayed.latency = 0.5;
        ep.faults.rules["*"] = delayed;
        ep.faults.latency = 300ms;
        ep.faults.slow_delay = 5s;
        auto server = std::make_unique<emu::emulator>(server_io.get_executor(), ep);
        server->start();
        auto account = server->accounts().front();
        cbs::client_params cp;
        cp.endpoint = server->endpoint();
        cp.pool.ca_file = server->ca_file();
        cp.creds = {account.secret_id, account.secret_key, account.token, "emulator"};
        cp.rate_limit = false;
        cp.request_timeout = 10s;
        cp.retry.network_max_attempts = cp.retry.transient_max_attempts = 1;
        std::thread server_thread;
        if (own_thread) server_thread = std::thread([&] { server_io.run(); });
        cbs::client c(own_thread ? client_io.get_executor() : server_io.get_executor(), cp);
        auto& io = own_thread ? client_io : server_io;
        int finished = 0;
        for (int i = 0; i < 20; ++i)
            asio::co_spawn(
                io,
                [&]() -> asio::awaitable<void> {
                    co_await c.async_call("DescribeDisks", {}, cbs::as_result);
                    ++finished;
                },
                asio::detached);
        asio::steady_timer t(io, 200ms);
        t.async_wait([&](auto) {
            if (own_thread) {
                asio::post(server_io, [&] { server->stop(); });
            } else {
                server->stop();
                server.reset();
            }
        });
        io.run_for(15s);
        if (own_thread) {
            server_thread.join();
            server.reset();
        }
        CHECK(finished == 20);
    }
}
