// A program built against an installed cbs-async (find_package), as a user's
// would be. Talks to a running emulator given by the environment (the export
// lines `cbsctl emulator` prints) and uses the three usual completion styles:
// a callback with a diagnostics object, a std::future from another thread,
// and co_await. Exit 0 when all three calls succeed; the first failure is
// printed.
#include <cbs/client.hpp>
#include <cbs/describe_actions.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <iostream>
#include <thread>

namespace asio = boost::asio;

int main() {
    asio::io_context io;
    auto params = cbs::client_params::from_env();
    cbs::client c(io.get_executor(), params);
    int failures = 0;
    auto fail = [&](const char* what, const std::string& why) {
        std::cerr << "consumer: " << what << ": " << why << "\n";
        ++failures;
    };

    // 1. A callback, with the diagnostics beside it.
    cbs::diagnostics diag;
    std::string disk;
    c.async_call("DescribeDisks", {}, {}, diag, [&](cbs::error_code ec, boost::json::object rsp) {
        if (ec) return fail("callback", diag.to_string(ec));
        const auto& set = rsp.at("DiskSet").as_array();
        if (set.empty()) return fail("callback", "no disks");
        disk = std::string(set.at(0).at("DiskId").as_string());
        std::cout << "callback: " << set.size() << " disks (RequestId " << diag.request_id << ")\n";
    });
    io.run();
    io.restart();
    if (disk.empty()) return 1;

    // 2. A future, waited on from another thread than the one running io.
    auto guard = asio::make_work_guard(io);
    std::thread runner([&] { io.run(); });
    try {
        auto f =
            c.async_create_snapshot_group({.disk_ids = {disk}, .snapshot_group_name = "consumer"}, asio::use_future);
        std::cout << "future: created " << f.get().snapshot_group_id << "\n";
    } catch (const std::exception& e) {
        fail("future", e.what());
    }
    guard.reset();
    runner.join();
    io.restart();

    // 3. co_await with the default token (throws cbs::error).
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            try {
                const cbs::describe_snapshot_groups_request all;
                auto groups = co_await c.async_invoke(all);
                std::cout << "co_await: " << groups.total_count << " snapshot groups\n";
                if (groups.total_count < 1) fail("co_await", "the group created above is not listed");
            } catch (const cbs::error& e) {
                fail("co_await", e.diag().to_string(e.code()));
            }
        },
        asio::detached);
    io.run();
    return failures == 0 ? 0 : 1;
}
