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
    cbs::client_params params;
    params.region = "ap-guangzhou";
    params.creds = cbs::resolve_credentials();  // env, then ~/.tencentcloud/credentials
    cbs::client client(io.get_executor(), params);
    boost::asio::co_spawn(io, snapshot(client), boost::asio::detached);
    io.run();
}
