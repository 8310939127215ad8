// Test helpers for the fixtures that start a real server on loopback
// (tinyproxy, redis-server): a free port, "does it accept yet", and the
// server's output file read whole.
#pragma once

#include <cstdint>
#include <string>

namespace cbs::test {

/// A port nobody listens on right now (the kernel's pick for 127.0.0.1:0).
/// Another process may take it before the server binds: callers retry.
/// Throws std::runtime_error naming `who` when no socket can be had.
std::uint16_t free_loopback_port(const std::string& who);

/// True once something accepts TCP connections on 127.0.0.1:port (loopback
/// refuses at once when nothing listens, so this does not block).
bool loopback_accepts(std::uint16_t port);

/// The whole file (empty when it cannot be read).
std::string read_whole_file(const std::string& path);

}  // namespace cbs::test
