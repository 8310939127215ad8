// The limiters that share each action's limit through Redis: a thin async
// layer over shared_limiter_core (the decisions) and the Lua script (the
// shared state), with the local limiter as the fallback while Redis is away.
//
// One action's waiters queue in FIFO; only the head asks the script, for a
// slot at most reserve_ahead away, so a process never holds more than that of
// the shared schedule and a throttle applies to the rest of its backlog. A
// granted waiter leaves the queue and sleeps until its slot; the next head
// asks at once.
#include "../net/rate_limit_group.hpp"
#include "redis_limiter_link.hpp"
#include "redis_limiter_script.hpp"

#include <cbs/detail/shared_limiter_core.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdio>
#include <list>

namespace cbs::detail {
namespace {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

// The state outlives its last write by this: far longer than any slot or
// hold it holds, short enough that a retired key does not linger.
constexpr std::chrono::milliseconds state_ttl{60'000};

std::string us(std::chrono::nanoseconds d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6f", v);
    return buf;
}

class redis_action_limiter final : public action_limiter {
public:
    redis_action_limiter(asio::any_io_executor ex, std::shared_ptr<redis_link> link, std::string key,
                         const limiter_params& lp)
        : ex_(std::move(ex)),
          link_(std::move(link)),
          key_(std::move(key)),
          lp_(lp),
          fallback_(ex_, fallback_params(lp, link_->params.expected_processes)),
          core_(core_settings(lp, link_->params)) {}

    ~redis_action_limiter() override {
        *alive_ = false;
        for (auto* w : members_) w->timer.cancel();
    }

    asio::awaitable<error_code> async_acquire(time_point deadline) override {
        // Not a guard object: a frame destroyed unresumed (its io_context
        // going away) must not arm a timer.
        auto alive = alive_;
        auto link = link_;
        link->enter();
        const auto ec = co_await acquire(deadline);
        if (*alive) link->leave();
        co_return ec;
    }

    void on_throttled() override {
        fallback_.on_throttled();
        if (!link_->ready()) return;
        // Slows every process; the answer is not needed.
        link_->conn->async_command(script_args("throttle", {}), [](error_code, const redis_reply&) {});
    }

    void on_success() override { fallback_.on_success(); }

private:
    asio::awaitable<error_code> acquire(time_point deadline) {
        auto alive = alive_;
        const auto cancel = co_await asio::this_coro::cancellation_state;
        for (;;) {
            sync_loss();
            if (link_->shared_usable()) {
                auto ec = co_await shared_acquire(deadline);
                if (!*alive) co_return client_errc::cancelled;
                if (ec != redis_errc::not_ready) co_return ec;
                continue;  // Redis went away while queued: the fallback now
            }
            if (!link_->first_resolved) {
                // The first link is being made: wait for it (bounded by
                // connect_timeout) rather than fall back at start.
                co_await link_->first_ready.async_wait(asio::as_tuple(asio::use_awaitable));
                if (!*alive || cancelled(cancel)) co_return client_errc::cancelled;
                if (!link_->first_resolved) {
                    link_->first_resolved = true;
                    link_->lost("no link within connect_timeout");
                }
                continue;
            }
            co_return co_await fallback_acquire(deadline);
        }
    }

    struct waiter {
        explicit waiter(const asio::any_io_executor& ex) : timer(ex) {}
        asio::steady_timer timer;
        bool woken = false;
    };

    static limiter_params fallback_params(limiter_params lp, unsigned processes) {
        lp.rate_per_second = shared_fallback_rate(lp.rate_per_second, processes);
        lp.min_rate = std::min(lp.min_rate, lp.rate_per_second);
        return lp;
    }

    static shared_limiter_core::settings core_settings(const limiter_params& lp, const shared_limiter_params& p) {
        shared_limiter_core::settings s;
        s.reserve_ahead = p.reserve_ahead;
        s.window = lp.window;
        s.fallback_interval = emission_interval(shared_fallback_rate(lp.rate_per_second, p.expected_processes));
        return s;
    }

    static bool cancelled(const asio::cancellation_state& st) {
        return st.cancelled() != asio::cancellation_type::none;
    }

    void sync_loss() {
        if (seen_loss_ == link_->loss_epoch) return;
        seen_loss_ = link_->loss_epoch;
        core_.on_lost(link_->loss_time);
    }

    std::vector<std::string> script_args(const char* op, const shared_limiter_core::request& r) const {
        const auto& p = link_->params;
        // Others reconnect within their backoff (up to 1.25 x reconnect_max
        // with jitter) plus a connect; their fallback sends of the last
        // window are then on the schedule too (they report them).
        const auto hold = p.reconnect_max + p.reconnect_max / 4 + p.connect_timeout + lp_.window;
        return {"EVAL",
                shared_limiter_script,
                "1",
                key_,
                op,
                num(lp_.rate_per_second),
                num(lp_.min_rate),
                num(lp_.throttle_decrease),
                us(lp_.recovery),
                us(lp_.throttle_holdoff),
                std::to_string(r.max_wait_us),
                r.back ? "1" : "0",
                std::to_string(r.sent),
                num(shared_hold_rate(lp_.rate_per_second, p.expected_processes)),
                us(hold),
                std::to_string(state_ttl.count()),
                ""};
    }

    /// Sleeps on the waiter's own timer until `until`. True when woken by
    /// the time; false when cancelled (or the limiter is gone).
    asio::awaitable<bool> sleep_until(waiter& w, time_point until) {
        auto alive = alive_;
        w.timer.expires_at(until);
        auto [ec] = co_await w.timer.async_wait(asio::as_tuple(asio::use_awaitable));
        co_return *alive && !ec;
    }

    void wake_next() {
        if (queue_.empty()) return;
        queue_.front()->woken = true;
        queue_.front()->timer.cancel();
    }

    asio::awaitable<error_code> shared_acquire(time_point deadline);
    asio::awaitable<error_code> fallback_acquire(time_point deadline);

    asio::any_io_executor ex_;
    std::shared_ptr<redis_link> link_;
    std::string key_;
    limiter_params lp_;
    async_rate_limiter<steady> fallback_;
    shared_limiter_core core_;
    std::uint64_t seen_loss_ = 0;
    std::list<waiter*> queue_;    // FIFO of the shared path; the head asks the script
    std::list<waiter*> members_;  // every waiter alive, for the destructor
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

asio::awaitable<error_code> redis_action_limiter::shared_acquire(time_point deadline) {
    auto alive = alive_;
    const auto cancel = co_await asio::this_coro::cancellation_state;
    waiter w(ex_);
    auto member = members_.insert(members_.end(), &w);
    auto place = queue_.insert(queue_.end(), &w);
    bool queued = true;
    // Leaves the queue (waking the next head) and the members, on every exit.
    struct leave_guard {
        redis_action_limiter* self;
        std::shared_ptr<bool> alive;
        std::list<waiter*>::iterator member, place;
        bool* queued;
        ~leave_guard() {
            if (!*alive) return;
            if (*queued) {
                const bool head = place == self->queue_.begin();
                self->queue_.erase(place);
                if (head) self->wake_next();
            }
            self->members_.erase(member);
        }
    } guard{this, alive, member, place, &queued};
    const auto leave_queue = [&] {
        queued = false;
        queue_.erase(place);
        wake_next();
    };

    while (queue_.front() != &w) {
        const bool timed_out = co_await sleep_until(w, deadline);
        if (!*alive) co_return client_errc::cancelled;
        if (w.woken) {
            w.woken = false;
            continue;
        }
        co_return timed_out ? error_code(client_errc::deadline_exceeded) : error_code(client_errc::cancelled);
    }
    for (;;) {
        sync_loss();
        if (!link_->shared_usable()) co_return redis_errc::not_ready;
        const auto asked = steady::now();
        const auto req = core_.next_request(asked, deadline);
        auto [ec, reply] =
            co_await async_eval(*link_->conn, script_args("acquire", req), asio::as_tuple(asio::use_awaitable));
        if (!*alive) co_return client_errc::cancelled;
        if (cancelled(cancel)) co_return client_errc::cancelled;
        const auto& e = reply.elements;
        const bool well_formed = !ec && reply.type == redis_reply::kind::array && e.size() == 4 &&
                                 e[0].type == redis_reply::kind::integer && e[1].type == redis_reply::kind::integer;
        if (!well_formed) {
            link_->lost(ec ? ec.message() + (reply.str.empty() ? "" : ": " + reply.str)
                           : "the limiter script answered something unexpected");
            sync_loss();
            co_return redis_errc::not_ready;
        }
        link_->answered();
        const auto d = core_.on_answer(asked, deadline, e[0].integer == 1, e[1].integer);
        if (d.what == shared_limiter_core::decision::kind::deadline) co_return client_errc::deadline_exceeded;
        if (d.what == shared_limiter_core::decision::kind::send_at) {
            leave_queue();
            core_.on_sent(d.at, true);
            ++link_->shared_grants;
            if (d.at <= steady::now()) co_return error_code{};
            const bool on_time = co_await sleep_until(w, d.at);
            if (!*alive) co_return client_errc::cancelled;
            // Cancelled while waiting for its slot: the slot goes unused,
            // which only leaves the shared rate lower.
            co_return on_time ? error_code{} : error_code(client_errc::cancelled);
        }
        if (!co_await sleep_until(w, d.at)) co_return client_errc::cancelled;
    }
}

asio::awaitable<error_code> redis_action_limiter::fallback_acquire(time_point deadline) {
    auto alive = alive_;
    if (const auto gate = core_.fallback_gate(); steady::now() < gate) {
        // Every slot handed out before the loss must pass first.
        waiter w(ex_);
        auto member = members_.insert(members_.end(), &w);
        const bool on_time = co_await sleep_until(w, std::min(gate, deadline));
        if (!*alive) co_return client_errc::cancelled;
        members_.erase(member);
        if (!on_time) co_return client_errc::cancelled;
        if (gate > deadline) co_return client_errc::deadline_exceeded;
    }
    auto ec = co_await fallback_.async_acquire(deadline);
    if (!*alive) co_return client_errc::cancelled;
    if (!ec) {
        core_.on_sent(steady::now(), false);
        ++link_->fallback_grants;
    }
    co_return ec;
}

class redis_backend final : public shared_limiter_backend {
public:
    redis_backend(const asio::any_io_executor& ex, const shared_limiter_params& p, const limiter_url& url,
                  std::string key_base)
        : ex_(ex), key_base_(std::move(key_base)), link_(std::make_shared<redis_link>(ex, p, url)) {}

    ~redis_backend() override { link_->conn.reset(); }

    std::unique_ptr<action_limiter> make(const std::string& action, const limiter_params& lp) override {
        return std::make_unique<redis_action_limiter>(ex_, link_, key_base_ + action, lp);
    }

    void add_stats(client_stats& s) const override {
        s.limiter = link_->where;
        s.limiter_fallback = link_->fallback;
        s.limiter_fallbacks = link_->fallbacks;
        s.limiter_shared_grants = link_->shared_grants;
        s.limiter_fallback_grants = link_->fallback_grants;
    }

private:
    asio::any_io_executor ex_;
    std::string key_base_;
    std::shared_ptr<redis_link> link_;
};

}  // namespace

std::unique_ptr<shared_limiter_backend> make_redis_limiter_backend(const asio::any_io_executor& ex,
                                                                   const shared_limiter_params& params,
                                                                   const limiter_url& url, std::string key_base) {
    return std::make_unique<redis_backend>(ex, params, url, std::move(key_base));
}

}  // namespace cbs::detail
