// cbs-async: one Redis connection driven by Asio (hiredis's async API through
// an adapter of our own), reconnecting with backoff for as long as it runs.
// Private to the library (the shared rate limiter uses it); not installed.
//
// Contract (the limiter relies on each point):
//  * Nothing blocks the calling thread: the host name is resolved with Asio,
//    hiredis gets an address and does a non-blocking connect, and every read
//    and write waits on the socket through Asio.
//  * Every handler runs on the connection's executor, never inside the
//    initiating call.
//  * A command fails fast when the link is not ready (redis_errc::not_ready),
//    times out after command_timeout (redis_errc::timeout: the link is then
//    dropped and re-made, since a late answer could be read as the next
//    command's), and fails with redis_errc::connection_lost when the link
//    drops with it in flight. Commands are never re-sent by this class.
//  * generation() grows by one each time a new link becomes ready (after
//    AUTH when a password is set), so a user can tell "the same link" from
//    "a new link after a loss".
//  * stop() ends reconnecting, fails what is in flight with
//    redis_errc::stopped and frees hiredis; the destructor does the same.
//
// Thread safety: none; use it on one strand.
#pragma once

#include <cbs/error.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace cbs::detail {

enum class redis_errc {
    not_ready = 1,    ///< no link at the moment (connecting, or waiting to reconnect)
    timeout,          ///< no answer within command_timeout (the link is re-made)
    connection_lost,  ///< the link dropped with the command in flight
    stopped,          ///< stop() was called or the connection destroyed
    server_error,     ///< the server answered an error reply (message in the reply's str)
    protocol,         ///< hiredis could not parse the answer
};
const boost::system::error_category& redis_category() noexcept;
inline error_code make_error_code(redis_errc e) noexcept {
    return {static_cast<int>(e), redis_category()};
}

/// One RESP reply, copied out of hiredis.
struct redis_reply {
    enum class kind { nil, integer, string, status, error, array };
    kind type = kind::nil;
    long long integer = 0;
    std::string str;  ///< string, status and error replies
    std::vector<redis_reply> elements;
};

/// Parameters of one connection.
struct redis_link_params {
    /// Host name or address. Default "127.0.0.1".
    std::string host = "127.0.0.1";
    /// TCP port. Default 6379.
    std::uint16_t port = 6379;
    /// ACL user (Redis 6+); empty with a password: "AUTH password". Default empty.
    std::string user;
    /// Password; empty: no AUTH. Default empty. Never logged or printed.
    std::string password;
    /// Resolve + connect + AUTH must finish within this. Default 1 s.
    std::chrono::milliseconds connect_timeout{1000};
    /// One command's answer must come within this. Default 250 ms.
    std::chrono::milliseconds command_timeout{250};
    /// First reconnect delay; doubles up to backoff_max, with +-25% jitter.
    /// Default 50 ms.
    std::chrono::milliseconds backoff_initial{50};
    /// Largest reconnect delay. Default 1 s.
    std::chrono::milliseconds backoff_max{1000};
};

/// Counters, for stats and tests.
struct redis_link_stats {
    std::uint64_t connects = 0;          ///< links that became ready
    std::uint64_t connect_failures = 0;  ///< attempts that failed (refused, timeout, AUTH)
    std::uint64_t losses = 0;            ///< ready links that dropped
    std::uint64_t commands = 0;          ///< commands sent
    std::uint64_t timeouts = 0;          ///< commands that timed out
};

class redis_connection {
public:
    using handler = std::function<void(error_code, redis_reply)>;
    /// Called on every change of readiness: (true, "") when a link becomes
    /// ready, (false, why) when one is lost or an attempt fails. `why` names
    /// the host:port and the cause, never the password.
    using state_handler = std::function<void(bool ready, const std::string& why)>;

    redis_connection(boost::asio::any_io_executor ex, redis_link_params params);
    ~redis_connection();
    redis_connection(const redis_connection&) = delete;
    redis_connection& operator=(const redis_connection&) = delete;

    /// Starts connecting (asynchronously); reconnects after every loss until stop().
    void start();
    /// Stops for good (see the file comment).
    void stop();

    bool ready() const noexcept;
    std::uint64_t generation() const noexcept;
    const redis_link_stats& stats() const noexcept;
    void on_state(state_handler h);

    /// Sends one command (argv: the command and its arguments, binary-safe).
    /// `h` runs once on the executor (see the file comment for the errors;
    /// an error reply completes with redis_errc::server_error and the reply).
    void async_command(std::vector<std::string> argv, handler h);

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace cbs::detail

template <>
struct boost::system::is_error_code_enum<cbs::detail::redis_errc> : std::true_type {};
