// The async layer of the connection pool: drives pool_core, owns the
// http_connection objects, parks waiters on timers. Internal.
//
// Threading: every member function must be called from the pool's executor
// (the client's strand). Idle connections are evicted lazily, on each lease
// and release: the pool starts no background operation, so an io_context with
// only idle connections left runs out of work and returns.
#pragma once

#include <cbs/detail/http_connection.hpp>
#include <cbs/detail/pool_core.hpp>

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>

namespace cbs::detail {

class connection_pool;

/// A leased connection. Returns to the pool when released or destroyed
/// (destroyed without release(true): discarded).
class pooled_connection {
public:
    pooled_connection() = default;
    pooled_connection(pooled_connection&& o) noexcept { *this = std::move(o); }
    pooled_connection& operator=(pooled_connection&& o) noexcept;
    ~pooled_connection() { release(false); }

    http_connection& operator*() const noexcept { return *conn_; }
    http_connection* operator->() const noexcept { return conn_; }
    explicit operator bool() const noexcept { return conn_ != nullptr; }

    /// True if this connection served an earlier exchange.
    bool reused() const noexcept { return reused_; }

    /// Gives the connection back; `reusable` keeps it for keep-alive reuse.
    void release(bool reusable) noexcept;

private:
    friend class connection_pool;
    connection_pool* pool_ = nullptr;
    pool_core::conn_id id_ = 0;
    http_connection* conn_ = nullptr;
    bool reused_ = false;
};

class connection_pool {
public:
    using clock = pool_core::clock;

    /// `ex` must serialise all calls (a strand or a single-threaded context).
    /// `now` is injectable for tests; defaults to steady_clock::now.
    /// Throws cbs::error (invalid_config) for a bad params.proxy (naming it
    /// without its password) or an unloadable CA file.
    connection_pool(boost::asio::any_io_executor ex, endpoint ep, pool_params params,
                    std::function<clock::time_point()> now = {});
    ~connection_pool();
    connection_pool(const connection_pool&) = delete;
    connection_pool& operator=(const connection_pool&) = delete;

    /// Leases a connection: a fresh idle one, a new one (connect + TLS), or
    /// the next one released after waiting FIFO. `fresh_only` first discards
    /// every idle connection (after one was found closed by the server, its
    /// siblings are suspect too). Cancellable (per-operation cancellation of
    /// the awaiting coroutine); errors: connect/TLS errors,
    /// client_errc::pool_exhausted after params.wait_timeout,
    /// client_errc::cancelled, client_errc::deadline_exceeded when
    /// `deadline` (the call's) comes before a connection does.
    boost::asio::awaitable<pooled_connection> async_lease(error_code& ec, diagnostics& diag, bool fresh_only = false,
                                                          clock::time_point deadline = clock::time_point::max());

    struct pool_stats {
        std::size_t open = 0, idle = 0, waiting = 0;
        std::uint64_t connects = 0;  ///< connections ever opened (attempted)
        std::uint64_t reuses = 0;    ///< leases served by an idle connection
    };
    pool_stats stats() const;

private:
    friend class pooled_connection;
    struct waiter;

    void give_back(pool_core::conn_id id, bool reusable) noexcept;
    void hand_over(const pool_core::wake& w) noexcept;
    void close_expired();
    boost::asio::awaitable<pooled_connection> connect_new(pool_core::conn_id id, error_code& ec, diagnostics& diag);
    pooled_connection make_lease(pool_core::conn_id id, bool reused);

    boost::asio::any_io_executor ex_;
    endpoint ep_;
    pool_params params_;
    std::optional<proxy_url> proxy_;  // params_.proxy parsed; nullopt: direct
    std::function<clock::time_point()> now_;
    boost::asio::ssl::context tls_;
    pool_core core_;
    std::map<pool_core::conn_id, std::unique_ptr<http_connection>> conns_;
    std::map<pool_core::waiter_id, waiter*> waiters_;
    std::uint64_t reuses_ = 0;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

/// Builds the TLS client context: TLS 1.2 minimum, peer verification against
/// `params.ca_file` or the system store. Throws cbs::error (invalid_config)
/// naming the CA file if it cannot be loaded.
boost::asio::ssl::context make_tls_context(const pool_params& params);

/// params.proxy parsed (nullopt when empty). Throws cbs::error
/// (invalid_config) naming the field and the URL without its password.
std::optional<proxy_url> make_proxy(const pool_params& params);

}  // namespace cbs::detail
