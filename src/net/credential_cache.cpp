// The async layer of the credential cache (see detail/credential_cache.hpp):
// the decisions are credential_cache_core's, this file runs the fetches and
// parks the calls that must wait.
#include <cbs/detail/credential_cache.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <map>

namespace cbs::detail {

namespace asio = boost::asio;

/// One waiting call: its timer is both its deadline and its wake-up.
struct credential_waiter {
    asio::steady_timer timer;
    bool woken = false;
    error_code ec{};
    diagnostics diag{};
};

struct credential_cache::shared {
    shared(asio::any_io_executor e, std::shared_ptr<credential_provider> p, const credential_cache_params& params,
           std::function<wall_clock::time_point()> n)
        : ex(std::move(e)), provider(std::move(p)), core(params), now(std::move(n)) {}
    asio::any_io_executor ex;
    std::shared_ptr<credential_provider> provider;
    credential_cache_core core;
    std::function<wall_clock::time_point()> now;
    std::map<credential_cache_core::waiter_id, credential_waiter*> waiters;
    bool alive = true;
    std::uint64_t refreshes = 0, failures = 0;
};

credential_cache::credential_cache(asio::any_io_executor ex, std::shared_ptr<credential_provider> provider,
                                   const credential_cache_params& params, std::function<wall_clock::time_point()> now)
    : s_(std::make_shared<shared>(std::move(ex), std::move(provider), params, std::move(now))) {}

void credential_cache::seed(credentials creds) {
    s_->core.on_fetched({}, std::move(creds), s_->now());
}

credential_cache::~credential_cache() {
    // Calls must not be waiting any more (the client outlives its calls):
    // only fetches in flight remain, and they complete into nothing.
    s_->alive = false;
}

void credential_cache::start_fetch() {
    // The handler holds the shared state (not `this`): a fetch may outlive
    // the client, and then completes into nothing.
    s_->provider->async_fetch(s_->ex, [s = s_](error_code ec, credentials creds, diagnostics diag) {
        if (!s->alive) return;
        const auto source = creds.source.empty() ? s->provider->describe() : creds.source;
        if (!ec) {
            // What a provider hands over goes into headers: refuse anything
            // that could end a header line early.
            const auto ctl = [](const std::string& v) {
                return std::any_of(v.begin(), v.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
            };
            std::string bad;
            if (creds.secret_id.empty() || creds.secret_key.empty())
                bad = "no SecretId or no SecretKey";
            else if (ctl(creds.secret_id) || ctl(creds.token))
                bad = "control characters in the SecretId or the token";
            if (!bad.empty()) {
                ec = client_errc::credentials_invalid;
                diag.clear();
                diag.client_message = "credentials from " + source + ": " + bad;
            }
        }
        auto r = s->core.on_fetched(ec, std::move(creds), s->now());
        if (r.expired_on_arrival) {
            ec = client_errc::credentials_invalid;
            diag.clear();
            diag.client_message = "credentials from " + source + " had already expired when they arrived";
        }
        if (!r.ok) {
            ++s->failures;
            if (diag.client_message.empty()) diag.client_message = "fetching credentials (" + source + ")";
        }
        if (r.refreshed) ++s->refreshes;
        for (auto id : r.wake) {
            auto it = s->waiters.find(id);
            if (it == s->waiters.end()) continue;
            it->second->woken = true;
            if (!r.ok) {
                it->second->ec = ec;
                it->second->diag = diag;
            }
            it->second->timer.cancel();
            s->waiters.erase(it);
        }
    });
}

asio::awaitable<error_code> credential_cache::async_ensure(std::chrono::steady_clock::time_point deadline,
                                                           diagnostics& diag) {
    auto g = s_->core.get(s_->now());
    if (g.start_fetch) start_fetch();
    if (g.what == credential_cache_core::get_result::use) co_return error_code{};
    if (deadline <= std::chrono::steady_clock::now()) {
        s_->core.cancel(g.waiter);
        diag.client_message = "deadline passed while waiting for credentials (" + s_->provider->describe() + ")";
        co_return client_errc::deadline_exceeded;
    }
    credential_waiter w{asio::steady_timer(s_->ex, deadline)};
    s_->waiters.emplace(g.waiter, &w);
    auto s = s_;  // the cache may be destroyed while this waits
    auto [tec] = co_await w.timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (w.woken) {
        if (w.ec) diag = std::move(w.diag);
        co_return w.ec;
    }
    // Not woken: the deadline, or a cancellation of the call (or the cache
    // going away). Leave the queue.
    s->waiters.erase(g.waiter);
    if (s->alive) s->core.cancel(g.waiter);
    if (!tec && s->alive) {
        diag.client_message = "deadline passed while waiting for credentials (" + s->provider->describe() + ")";
        co_return client_errc::deadline_exceeded;
    }
    diag.client_message = "cancelled while waiting for credentials";
    co_return client_errc::cancelled;
}

const credentials* credential_cache::usable(std::uint64_t& generation) const {
    generation = s_->core.generation();
    return s_->core.usable(s_->now());
}

const credentials* credential_cache::current() const noexcept {
    return s_->core.current();
}

void credential_cache::force_refresh(std::uint64_t generation) {
    if (s_->core.force_refresh(generation)) start_fetch();
}

credential_cache::cache_stats credential_cache::stats() const {
    cache_stats st;
    st.fetches = s_->core.fetches();
    st.refreshes = s_->refreshes;
    st.failures = s_->failures;
    if (const auto* c = s_->core.current()) st.source = c->source;
    st.provider = s_->provider->describe();
    return st;
}

}  // namespace cbs::detail
