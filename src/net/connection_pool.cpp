#include <cbs/detail/connection_pool.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <openssl/ssl.h>

namespace cbs::detail {

namespace asio = boost::asio;

// ---------------------------------------------------------------------------
// pooled_connection

pooled_connection& pooled_connection::operator=(pooled_connection&& o) noexcept {
    if (this != &o) {
        release(false);
        pool_ = std::exchange(o.pool_, nullptr);
        id_ = std::exchange(o.id_, 0);
        conn_ = std::exchange(o.conn_, nullptr);
        reused_ = o.reused_;
    }
    return *this;
}

void pooled_connection::release(bool reusable) noexcept {
    if (!pool_) return;
    auto* pool = std::exchange(pool_, nullptr);
    conn_ = nullptr;
    pool->give_back(id_, reusable);
}

// ---------------------------------------------------------------------------
// connection_pool

struct connection_pool::waiter {
    asio::steady_timer timer;
    std::optional<pool_core::wake> woken;
};

asio::ssl::context make_tls_context(const pool_params& params) {
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    // TLS 1.2 is the floor; OpenSSL negotiates 1.3 where the server offers it.
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression);
    boost::system::error_code ec;
    if (!params.ca_file.empty()) {
        ctx.load_verify_file(params.ca_file, ec);
        if (ec) {
            diagnostics diag;
            diag.client_message = "cannot load CA file '" + params.ca_file + "': " + ec.message();
            throw error(client_errc::invalid_config, std::move(diag));
        }
    } else {
        ctx.set_default_verify_paths(ec);
    }
    return ctx;
}

std::optional<proxy_url> make_proxy(const pool_params& params) {
    if (params.proxy.empty()) return std::nullopt;
    proxy_url p;
    std::string why;
    if (!parse_proxy_url(params.proxy, p, why)) {
        diagnostics diag;
        diag.client_message = "pool.proxy: " + why;
        throw error(client_errc::invalid_config, std::move(diag));
    }
    return p;
}

connection_pool::connection_pool(asio::any_io_executor ex, endpoint ep, pool_params params,
                                 std::function<clock::time_point()> now)
    : ex_(std::move(ex)),
      ep_(std::move(ep)),
      params_(std::move(params)),
      proxy_(make_proxy(params_)),
      now_(now ? std::move(now) : [] { return clock::now(); }),
      tls_(make_tls_context(params_)),
      core_(params_.max_size, params_.idle_timeout) {}

connection_pool::~connection_pool() {
    *alive_ = false;
    auto s = core_.shutdown();
    for (auto id : s.waiters) {
        if (auto it = waiters_.find(id); it != waiters_.end()) it->second->timer.cancel();
    }
    for (auto& [id, conn] : conns_) conn->close();
}

connection_pool::pool_stats connection_pool::stats() const {
    return {core_.open(), core_.idle(), core_.waiting(), core_.connects(), reuses_};
}

void connection_pool::close_expired() {
    for (auto id : core_.take_expired(now_())) {
        if (auto it = conns_.find(id); it != conns_.end()) {
            it->second->close();
            conns_.erase(it);
        }
    }
}

pooled_connection connection_pool::make_lease(pool_core::conn_id id, bool reused) {
    pooled_connection lease;
    lease.pool_ = this;
    lease.id_ = id;
    lease.conn_ = conns_.at(id).get();
    lease.reused_ = reused;
    return lease;
}

asio::awaitable<pooled_connection> connection_pool::connect_new(pool_core::conn_id id, error_code& ec,
                                                                diagnostics& diag) {
    auto conn = std::make_unique<http_connection>(ex_, tls_);
    auto* raw = conn.get();
    conns_.emplace(id, std::move(conn));
    auto alive = alive_;
    ec = co_await raw->async_connect(ep_, params_, diag, proxy_ ? &*proxy_ : nullptr);
    if (!*alive) {  // the pool went away while we were connecting
        ec = client_errc::cancelled;
        co_return pooled_connection{};
    }
    if (ec) {
        conns_.erase(id);
        if (auto w = core_.on_connect_failed(id)) hand_over(*w);
        co_return pooled_connection{};
    }
    co_return make_lease(id, false);
}

asio::awaitable<pooled_connection> connection_pool::async_lease(error_code& ec, diagnostics& diag, bool fresh_only,
                                                                clock::time_point deadline) {
    ec = {};
    close_expired();
    if (fresh_only) {
        // Expire every idle connection now.
        for (auto id : core_.take_expired(clock::time_point::max())) {
            conns_.at(id)->close();
            conns_.erase(id);
        }
    }
    for (;;) {
        auto action = core_.request(now_());
        switch (action.what) {
            case pool_core::lease_action::use_idle: {
                auto& conn = *conns_.at(action.conn);
                if (conn.peer_closed_while_idle()) {
                    conn.close();
                    conns_.erase(action.conn);
                    core_.discard_idle(action.conn);
                    continue;  // try the next idle one, or connect
                }
                ++reuses_;
                co_return make_lease(action.conn, true);
            }
            case pool_core::lease_action::connect_new:
                co_return co_await connect_new(action.conn, ec, diag);
            case pool_core::lease_action::wait:
                break;
        }

        // Park until a connection is handed over, the wait times out, or the
        // caller cancels. hand_over() sets `woken` and cancels the timer.
        // The wait ends at the pool's wait_timeout or the call's deadline,
        // whichever comes first.
        const auto now = clock::now();
        const bool deadline_first = deadline - now < params_.wait_timeout;
        waiter w{asio::steady_timer(ex_, deadline_first ? deadline : now + params_.wait_timeout), std::nullopt};
        waiters_.emplace(action.waiter, &w);
        auto alive = alive_;
        auto [tec] = co_await w.timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (!*alive) {
            ec = client_errc::cancelled;
            co_return pooled_connection{};
        }
        waiters_.erase(action.waiter);
        if (w.woken) {
            if (w.woken->what == pool_core::wake::take_conn) {
                ++reuses_;
                co_return make_lease(w.woken->conn, true);
            }
            // Handed a slot to connect in, but cancelled meanwhile: pass the
            // slot on instead of connecting for nobody.
            if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none) {
                if (auto next = core_.on_connect_failed(w.woken->conn)) hand_over(*next);
                ec = client_errc::cancelled;
                diag.client_message = "cancelled while waiting for a pooled connection";
                co_return pooled_connection{};
            }
            co_return co_await connect_new(w.woken->conn, ec, diag);
        }
        core_.cancel(action.waiter);
        if (tec == asio::error::operation_aborted) {
            ec = client_errc::cancelled;
            diag.client_message = "cancelled while waiting for a pooled connection";
        } else if (deadline_first) {
            ec = client_errc::deadline_exceeded;
            diag.client_message = "the call's deadline passed while waiting for a pooled connection";
        } else {
            ec = client_errc::pool_exhausted;
            diag.client_message = "waited " + std::to_string(params_.wait_timeout.count()) + " ms for one of " +
                                  std::to_string(params_.max_size) + " pooled connections";
        }
        co_return pooled_connection{};
    }
}

void connection_pool::hand_over(const pool_core::wake& wk) noexcept {
    auto it = waiters_.find(wk.waiter);
    if (it == waiters_.end()) return;  // cannot happen: core and map are kept in step
    it->second->woken = wk;
    it->second->timer.cancel();
}

void connection_pool::give_back(pool_core::conn_id id, bool reusable) noexcept {
    auto it = conns_.find(id);
    if (!reusable && it != conns_.end()) {
        it->second->close();
        conns_.erase(it);
    }
    if (auto w = core_.release(id, reusable, now_())) hand_over(*w);
    close_expired();
}

}  // namespace cbs::detail
