// A real redis-server on loopback for one test (see redis_server.hpp).
#include "support/redis_server.hpp"
#include "support/loopback.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace cbs::test {

namespace {

using namespace std::chrono_literals;

}  // namespace

redis_server::redis_server(redis_server_options options) : options_(std::move(options)) {
    if (::access(binary, X_OK) != 0) {
        throw std::runtime_error(std::string(binary) +
                                 " is not installed: the Redis tests need it (run scripts/deps, which installs "
                                 "the redis-server package)");
    }
    char dir[] = "/tmp/cbs-redis-XXXXXX";
    if (::mkdtemp(dir) == nullptr) throw std::runtime_error("redis_server fixture: mkdtemp failed");
    out_ = std::string(dir) + "/out";
    std::string last;
    for (int attempt = 0; attempt < 5; ++attempt) {
        port_ = free_loopback_port("redis_server fixture");
        try {
            start();
            return;
        } catch (const std::exception& e) {
            last = e.what();  // most likely the port was taken meanwhile
        }
    }
    throw std::runtime_error("redis_server fixture: could not start redis-server 5 times; last: " + last);
}

redis_server::~redis_server() {
    kill();
    const auto dir = out_.substr(0, out_.rfind('/'));
    std::remove(out_.c_str());
    ::rmdir(dir.c_str());
}

void redis_server::restart() {
    kill();
    // The port was just ours; a client reconnecting may hold it briefly in a
    // half-open state, never listening: retry a few times.
    std::string last;
    for (int attempt = 0; attempt < 5; ++attempt) {
        try {
            start();
            return;
        } catch (const std::exception& e) {
            last = e.what();
            std::this_thread::sleep_for(50ms);
        }
    }
    throw std::runtime_error("redis_server fixture: restart failed: " + last);
}

void redis_server::start() {
    std::vector<std::string> args = {
        binary,        "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--daemonize", "no",     "--logfile",           "",       "--dir",     "/tmp"};
    if (!options_.password.empty()) {
        args.insert(args.end(), {"--requirepass", options_.password});
    }
    if (!options_.acl_user.empty()) {
        args.insert(args.end(), {"--user", options_.acl_user, "on", ">" + options_.acl_password, "~*", "&*", "+@all"});
    }
    pid_ = spawn_server(std::move(args), out_, "redis_server fixture");
    // Ready once the port accepts (an external process: polled, bounded).
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
        if (loopback_accepts(port_)) return;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("redis-server exited at start: " + read_whole_file(out_));
        }
        std::this_thread::sleep_for(5ms);
    }
    kill();
    throw std::runtime_error("redis-server did not accept on 127.0.0.1:" + std::to_string(port_) +
                             " within 10 s: " + read_whole_file(out_));
}

void redis_server::kill() noexcept {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
}

}  // namespace cbs::test
