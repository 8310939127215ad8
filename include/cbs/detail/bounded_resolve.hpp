// Name lookup with a deadline that holds. Internal.
//
// Boost 1.81's resolver runs getaddrinfo on one background thread per
// io_context and cannot cancel it: a lookup that stalls (a DNS server that
// swallows queries) keeps the caller, and every later lookup queued behind
// it, and the io_context itself, waiting for the system resolver's own
// timeouts (tens of seconds). Here each lookup runs on a detached thread of
// its own; the caller waits on a timer only, so it fails on time and can be
// cancelled at once, and the io_context holds no work for the lookup. A lookup
// that outlives its caller finishes in the background and its result is
// dropped. Lookups of the same host and port (by the same function) that
// overlap share one thread, so a stalled name costs one thread, not one per
// attempt.
#pragma once

#include <cbs/error.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace cbs::detail {

/// A blocking lookup: host and port to endpoints, or an error (Asio's netdb
/// and addrinfo codes, as asio::ip::tcp::resolver reports them). Runs on a
/// background thread. A plain function (not std::function) so that
/// overlapping lookups can be shared by identity; tests pass their own.
using resolve_function = error_code (*)(const std::string& host, std::uint16_t port,
                                        std::vector<boost::asio::ip::tcp::endpoint>& out);

/// getaddrinfo(host, port) with AF_UNSPEC, SOCK_STREAM and AI_ADDRCONFIG
/// (Asio's defaults). Blocking.
error_code system_resolve(const std::string& host, std::uint16_t port,
                          std::vector<boost::asio::ip::tcp::endpoint>& out);

/// Resolves `host`:`port` with `fn` on a background thread and waits at most
/// `timeout` for it. An IP literal is converted at once (no thread).
/// Returns: {} with `out` filled; `fn`'s error; client_errc::resolve_timeout
/// when `timeout` passes first; client_errc::cancelled when the awaiting
/// coroutine's cancellation slot fires first (both at once, without waiting
/// for the lookup); a system error if no thread could be started.
/// Safe with any executor (a strand included); the lookup thread only posts
/// to the waiter's executor while the waiter is still waiting.
boost::asio::awaitable<error_code> async_resolve_bounded(resolve_function fn, std::string host, std::uint16_t port,
                                                         std::chrono::milliseconds timeout,
                                                         std::vector<boost::asio::ip::tcp::endpoint>& out);

/// Lookup threads still running (finished or abandoned waiters included).
/// For tests and diagnostics.
std::size_t resolves_running() noexcept;

}  // namespace cbs::detail
