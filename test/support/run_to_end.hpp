// Test helper: run a coroutine on an io_context to its end, then stop the
// servers it talked to, and require that the io_context ran out of work:
// nothing leaked (no timer, socket operation or coroutine left behind).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <exception>

namespace cbs::test {

/// `body()` returns an awaitable<void>; `stop()` stops the servers (called
/// when the body finishes or throws); `limit` bounds a hung test.
template <class Body, class Stop>
void run_to_end(boost::asio::io_context& io, Stop stop, Body body,
                std::chrono::seconds limit = std::chrono::seconds(60)) {
    bool done = false;
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
            co_await body();
            done = true;
        },
        [&](std::exception_ptr e) {
            stop();
            if (e) std::rethrow_exception(e);
        });
    io.run_for(limit);
    REQUIRE(done);
    CHECK(io.stopped());
}

}  // namespace cbs::test
