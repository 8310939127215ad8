// Shared between emulator.cpp (set-up, PKI, state dir) and server.cpp (I/O).
#pragma once

#include "gateway.hpp"
#include "state_file.hpp"

#include <cbs/emulator/emulator.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace cbs::emu {
namespace detail {
struct connection;
struct metadata_connection;
}  // namespace detail

struct emulator::impl : std::enable_shared_from_this<emulator::impl> {
    impl(const boost::asio::any_io_executor& ex, emulator_params p);

    boost::asio::any_io_executor executor;
    boost::asio::strand<boost::asio::any_io_executor> acceptor_strand;
    emulator_params params;
    std::unique_ptr<detail::state_saver> saver;  // persist_state; outlives gw, which notifies it
    std::unique_ptr<detail::gateway> gw;
    std::optional<boost::asio::ssl::context> ssl_ctx;
    boost::asio::ip::tcp::acceptor acceptor;
    boost::asio::steady_timer accept_timer;  // accept back-off (on acceptor_strand)

    std::string state_dir, ca_path;
    bool owns_state_dir = false;

    mutable std::mutex mu;  // the fields below
    std::uint16_t port = 0;
    bool started = false, stopped = false;
    std::uint64_t next_connection = 0;
    std::uint64_t accept_failures = 0;
    std::map<std::uint64_t, std::weak_ptr<detail::connection>> connections;

    // The metadata service (metadata_server.cpp), when params.metadata.
    boost::asio::strand<boost::asio::any_io_executor> metadata_strand;
    boost::asio::ip::tcp::acceptor metadata_acceptor;  // on metadata_strand
    boost::asio::steady_timer metadata_accept_timer;   // accept back-off (on metadata_strand)
    std::uint16_t metadata_port = 0;                   // under mu
    std::map<std::uint64_t, std::weak_ptr<detail::metadata_connection>> metadata_connections;  // under mu
};

namespace detail {
/// Binds, listens and spawns the accept loop (server.cpp).
void start_server(const std::shared_ptr<emulator::impl>& st);
/// Closes the acceptor and every connection on their strands (server.cpp).
void stop_server(const std::shared_ptr<emulator::impl>& st);
/// Binds 127.0.0.1:params.metadata_port and serves the metadata service
/// (metadata_server.cpp).
void start_metadata_server(const std::shared_ptr<emulator::impl>& st);
/// Closes its acceptor and connections (after stop_server set `stopped`).
void stop_metadata_server(const std::shared_ptr<emulator::impl>& st);
}  // namespace detail

}  // namespace cbs::emu
