// Test helper: a real HTTP proxy (Debian's tinyproxy) on loopback, started in
// the foreground for one test and stopped by the destructor.
//
//   cbs::test::tinyproxy proxy({.connect_ports = {emu.port()}});
//   params.pool.proxy = proxy.url();
//   ... calls ...
//   CHECK(proxy.connect_requests().size() == 2);
//
// The constructor writes a config (Listen 127.0.0.1 on a free port, the
// ConnectPort lines, a log file at LogLevel Connect, BasicAuth when a user is
// given), runs `tinyproxy -d -c <conf>` and returns once the port accepts
// connections. tinyproxy missing: std::runtime_error saying to run
// scripts/deps (the tests fail loudly, they never skip). The child gets
// SIGKILL if the test process dies, so no proxy outlives a crashed test.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace cbs::test {

struct tinyproxy_options {
    /// Ports CONNECT may reach (ConnectPort lines). Empty: any port.
    std::vector<std::uint16_t> connect_ports = {};
    /// BasicAuth: when user is set, the proxy answers 407 to a CONNECT
    /// without credentials (and 401 to wrong ones).
    std::string user = {};
    std::string password = {};
};

class tinyproxy {
public:
    explicit tinyproxy(tinyproxy_options options = {});
    /// SIGTERM, then SIGKILL if it has not exited within 5 s; always reaped.
    /// Removes the config, log and directory.
    ~tinyproxy();
    tinyproxy(const tinyproxy&) = delete;
    tinyproxy& operator=(const tinyproxy&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    /// "http://127.0.0.1:<port>".
    std::string url() const;
    /// "http://<user>:<password>@127.0.0.1:<port>" (no escaping: keep them plain).
    std::string url_with(const std::string& user, const std::string& password) const;

    /// The whole log so far.
    std::string log() const;
    /// The targets of the CONNECT requests the proxy received, in order, from
    /// its log ("localhost:4433", ...): one per tunnel asked for.
    std::vector<std::string> connect_requests() const;
    /// How many tunnels it opened to the target ("Established connection"
    /// lines).
    std::size_t tunnels_established() const;

    /// The tinyproxy executable, or "" when it is not installed.
    static std::string find_binary();

private:
    void start(const std::string& binary);
    void stop() noexcept;

    tinyproxy_options options_;
    std::string dir_, conf_, log_, out_;
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
};

}  // namespace cbs::test
