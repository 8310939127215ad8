// Test helpers for the fixtures that start a real server on loopback
// (tinyproxy, redis-server): a free port, "does it accept yet", and the
// server's output file read whole.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace cbs::test {

/// A port nobody listens on right now (the kernel's pick for 127.0.0.1:0).
/// Another process may take it before the server binds: callers retry.
/// Throws std::runtime_error naming `who` when no socket can be had.
std::uint16_t free_loopback_port(const std::string& who);

/// True once something accepts TCP connections on 127.0.0.1:port (loopback
/// refuses at once when nothing listens, so this does not block).
bool loopback_accepts(std::uint16_t port);

/// Starts `args[0]` (a path) with `args`, its stdout and stderr in
/// `out_path`, killed (SIGKILL) if the test process dies. Returns its pid;
/// throws std::runtime_error naming `who` when fork fails.
pid_t spawn_server(std::vector<std::string> args, const std::string& out_path, const std::string& who);

/// The whole file (empty when it cannot be read).
std::string read_whole_file(const std::string& path);

}  // namespace cbs::test
