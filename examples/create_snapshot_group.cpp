#include <cbs/client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>

boost::asio::awaitable<void> snapshot(cbs::client& client) {
    cbs::create_snapshot_group_request req;
    req.disk_ids = {"disk-11112222", "disk-33334444"};  // disks of one instance
    req.snapshot_group_name = "nightly-ins-12345678-20261129";
    try {
        auto rsp = co_await client.async_create_snapshot_group(req);
        std::cout << "created " << rsp.snapshot_group_id << " (RequestId " << rsp.request_id << ")\n";
    } catch (const cbs::error& e) {
        // e.code(): cbs::api_errc / cbs::client_errc / network; e.diag(): Code, Message, RequestId
        std::cerr << "CreateSnapshotGroup failed: " << e.what() << "\n";
    }
}

int main() {
    boost::asio::io_context io;
    // Region, endpoint, CA file and credentials from the environment, the
    // variables cbsctl reads (client_params::from_env): keys, a profile with
    // its role, TKE OIDC or the CVM instance role.
    auto params = cbs::client_params::from_env();
    cbs::client client(io.get_executor(), params);
    boost::asio::co_spawn(io, snapshot(client), boost::asio::detached);
    io.run();
}
