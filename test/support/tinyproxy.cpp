// Test helper: tinyproxy on loopback (see tinyproxy.hpp).
#include "support/tinyproxy.hpp"
#include "support/loopback.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace cbs::test {

namespace {

using namespace std::chrono_literals;

}  // namespace

std::string tinyproxy::find_binary() {
    if (const char* path = std::getenv("PATH")) {
        std::stringstream dirs(path);
        for (std::string dir; std::getline(dirs, dir, ':');)
            if (!dir.empty() && ::access((dir + "/tinyproxy").c_str(), X_OK) == 0) return dir + "/tinyproxy";
    }
    for (const char* p : {"/usr/bin/tinyproxy", "/usr/sbin/tinyproxy", "/usr/local/bin/tinyproxy"})
        if (::access(p, X_OK) == 0) return p;
    return {};
}

tinyproxy::tinyproxy(tinyproxy_options options) : options_(std::move(options)) {
    const auto binary = find_binary();
    if (binary.empty())
        throw std::runtime_error(
            "tinyproxy is not installed, and the proxy tests need a real proxy: run scripts/deps (it installs the "
            "Debian package tinyproxy-bin) or apt-get install tinyproxy-bin");
    std::string tmpl = (std::filesystem::temp_directory_path() / "cbs-tinyproxy-XXXXXX").string();
    if (!::mkdtemp(tmpl.data()))
        throw std::runtime_error("tinyproxy fixture: mkdtemp: " + std::string(std::strerror(errno)));
    dir_ = tmpl;
    conf_ = dir_ + "/tinyproxy.conf";
    log_ = dir_ + "/tinyproxy.log";
    out_ = dir_ + "/stdout.txt";
    try {
        start(binary);
    } catch (...) {
        stop();
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
        throw;
    }
}

void tinyproxy::start(const std::string& binary) {
    std::string last_output;
    for (int attempt = 0; attempt < 5; ++attempt) {
        port_ = free_loopback_port("tinyproxy fixture");
        {
            std::ofstream conf(conf_, std::ios::trunc);
            conf << "Port " << port_ << "\n"
                 << "Listen 127.0.0.1\n"
                 << "Timeout 600\n"
                 << "LogFile \"" << log_ << "\"\n"
                 << "LogLevel Connect\n"
                 << "MaxClients 100\n"
                 << "DisableViaHeader Yes\n";
            for (auto p : options_.connect_ports) conf << "ConnectPort " << p << "\n";
            if (!options_.user.empty()) conf << "BasicAuth " << options_.user << " " << options_.password << "\n";
            if (!conf) throw std::runtime_error("tinyproxy fixture: cannot write " + conf_);
        }
        std::ofstream(log_, std::ios::trunc).close();

        pid_ = spawn_server({binary, "-d", "-c", conf_}, out_, "tinyproxy fixture");

        // Ready once the port accepts. An external process: nothing to await
        // but its port, polled every few milliseconds within a bound.
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        bool exited = false;
        while (std::chrono::steady_clock::now() < deadline) {
            if (loopback_accepts(port_)) return;
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                exited = true;
                break;
            }
            std::this_thread::sleep_for(5ms);
        }
        last_output = read_whole_file(out_) + read_whole_file(log_);
        if (!exited) {
            stop();
            throw std::runtime_error("tinyproxy did not accept on 127.0.0.1:" + std::to_string(port_) +
                                     " within 10 s; its output:\n" + last_output);
        }
        // Exited: most likely the port was taken meanwhile; try another.
    }
    throw std::runtime_error("tinyproxy exited at start 5 times; its last output:\n" + last_output);
}

void tinyproxy::stop() noexcept {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            return;
        }
        std::this_thread::sleep_for(5ms);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
}

tinyproxy::~tinyproxy() {
    stop();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
}

std::string tinyproxy::url() const {
    return "http://127.0.0.1:" + std::to_string(port_);
}

std::string tinyproxy::url_with(const std::string& user, const std::string& password) const {
    return "http://" + user + ":" + password + "@127.0.0.1:" + std::to_string(port_);
}

std::string tinyproxy::log() const {
    return read_whole_file(log_);
}

std::vector<std::string> tinyproxy::connect_requests() const {
    // "CONNECT   Dec 03 07:35:57.892 [7569]: Request (file descriptor 5): CONNECT localhost:38128 HTTP/1.1"
    std::vector<std::string> out;
    std::istringstream in(log());
    const std::string marker = "): CONNECT ";
    for (std::string line; std::getline(in, line);) {
        if (line.find("]: Request (file descriptor ") == std::string::npos) continue;
        const auto at = line.find(marker);
        if (at == std::string::npos) continue;
        const auto target = line.substr(at + marker.size());
        out.push_back(target.substr(0, target.find(' ')));
    }
    return out;
}

std::size_t tinyproxy::tunnels_established() const {
    std::istringstream in(log());
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);)
        if (line.find("]: Established connection to host ") != std::string::npos) ++n;
    return n;
}

}  // namespace cbs::test
