// The shared limiter's link to Redis (one per rate_limit_group): the
// connection, opened on use and closed when idle, whether the limiters are on
// their fallback, and the counters. Private to redis_limiter.cpp.
#pragma once

#include "redis_connection.hpp"

#include <cbs/shared_limiter.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace cbs::detail {

/// The group's link to Redis: one connection while the limiters are in use,
/// whether they are on their fallback, and the counters.
///
/// The connection is made on first use and closed after idle_close with no
/// acquisition: an idle hiredis link always has a read pending (and a down
/// one a reconnect timer), which would keep an io_context with nothing else
/// to do from running out.
struct redis_link {
    redis_link(const boost::asio::any_io_executor& ex, shared_limiter_params p, const limiter_url& url)
        : ex_(ex),
          link_params_(link_params(p, url)),
          params(std::move(p)),
          where(url.redacted()),
          first_ready(ex),
          idle_(ex) {}

    static redis_link_params link_params(const shared_limiter_params& p, const limiter_url& url) {
        redis_link_params lp;
        lp.host = url.host;
        lp.port = url.port;
        lp.user = url.user;
        lp.password = url.password;
        lp.connect_timeout = p.connect_timeout;
        lp.command_timeout = p.command_timeout;
        lp.backoff_max = p.reconnect_max;
        return lp;
    }

    /// An acquisition starts: the link is (re)opened if it was closed.
    void enter() {
        ++users_;
        idle_.cancel();
        if (conn) return;
        first_resolved = false;
        first_ready.expires_after(params.connect_timeout);
        conn = std::make_unique<redis_connection>(ex_, link_params_);
        conn->on_state([this](bool ready, const std::string& why) {
            first_resolved = true;
            first_ready.cancel();
            if (ready)
                answered();
            else
                lost(why);
        });
        conn->start();
    }

    /// An acquisition ended: the last one arms the idle close.
    void leave() {
        if (--users_ > 0) return;
        idle_.expires_after(params.idle_close);
        idle_.async_wait([this](error_code ec) {
            if (ec || users_ > 0) return;
            conn.reset();  // its state handler goes first: no loss is reported
            first_ready.cancel();
        });
    }

    bool ready() const { return conn && conn->ready(); }

    void notice(const std::string& text) const {
        if (params.on_notice) params.on_notice(text);
    }

    /// The shared path may be tried: a link is up, and either no loss is
    /// pending or the last one (an error on a live link, e.g. the script
    /// failing) is reconnect_max old.
    bool shared_usable() const {
        return ready() && (!fallback || std::chrono::steady_clock::now() >= loss_time + params.reconnect_max);
    }

    /// The script answered: whatever failed is over.
    void answered() {
        if (!fallback) return;
        fallback = false;
        notice("shared limiter: " + where + " answers again; back on the shared limit");
    }

    /// Redis is gone (or never came): the limiters fall back.
    void lost(const std::string& why) {
        ++loss_epoch;
        loss_time = std::chrono::steady_clock::now();
        if (fallback) return;
        fallback = true;
        ++fallbacks;
        notice("shared limiter: " + where + " unavailable (" + why + "); pacing each action at 1/" +
               std::to_string(params.expected_processes) + " of its rate until it answers");
    }

private:
    boost::asio::any_io_executor ex_;
    redis_link_params link_params_;
    std::size_t users_ = 0;

public:
    shared_limiter_params params;
    std::string where;                      // the URL without the password
    boost::asio::steady_timer first_ready;  // the first acquisitions wait on it for the link
    bool first_resolved = false;            // the link's first attempt ended (ready, failed or timed out)
    bool fallback = false;
    std::uint64_t loss_epoch = 0;
    std::chrono::steady_clock::time_point loss_time{};
    std::uint64_t fallbacks = 0, shared_grants = 0, fallback_grants = 0;
    std::unique_ptr<redis_connection> conn;  // null while closed (idle)

private:
    boost::asio::steady_timer idle_;
};

/// One command as an awaitable, completing on the connection's executor.
template <class Token>
auto async_eval(redis_connection& conn, std::vector<std::string> argv, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, redis_reply)>(
        [&conn](auto handler, std::vector<std::string> args) {
            // std::function needs a copyable target; the handler is move-only.
            auto h = std::make_shared<decltype(handler)>(std::move(handler));
            conn.async_command(std::move(args),
                               [h](error_code ec, redis_reply r) { std::move (*h)(ec, std::move(r)); });
        },
        token, std::move(argv));
}

}  // namespace cbs::detail
