// Test helper: a real redis-server (Debian's /usr/bin/redis-server) on a free
// loopback port, in the foreground, without persistence, for one test.
//
//   cbs::test::redis_server redis;                       // or ({.password = "pw"})
//   params.port = redis.port();
//   redis.kill();     // SIGKILL: the clients' links drop
//   redis.restart();  // the same port again
//
// The constructor returns once the port accepts connections. redis-server
// missing: std::runtime_error saying to run scripts/deps (the tests fail
// loudly, never skip: CI installs it). The child gets SIGKILL if the test
// process dies, and the destructor kills it, so no server outlives a test.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace cbs::test {

struct redis_server_options {
    /// --requirepass (the default user's password). Empty: no password.
    std::string password = {};
    /// An ACL user (user ... on >password ~* &* +@all) with this password.
    std::string acl_user = {};
    std::string acl_password = {};
};

class redis_server {
public:
    explicit redis_server(redis_server_options options = {});
    ~redis_server();
    redis_server(const redis_server&) = delete;
    redis_server& operator=(const redis_server&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    bool running() const noexcept { return pid_ > 0; }
    /// SIGKILL and reap (no goodbye to the clients: their sockets reset).
    void kill() noexcept;
    /// Starts again on the same port (after kill()).
    void restart();

    static constexpr const char* binary = "/usr/bin/redis-server";

private:
    void start();

    redis_server_options options_;
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
    std::string out_;  ///< the server's output (a temporary file)
};

}  // namespace cbs::test
