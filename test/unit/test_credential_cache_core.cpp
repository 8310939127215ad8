// The credential cache's decisions on an injected clock, no io_context: every
// transition in include/cbs/detail/credential_cache_core.hpp.
#include <cbs/detail/credential_cache_core.hpp>

#include <doctest/doctest.h>

using namespace cbs;
using detail::credential_cache_core;
using namespace std::chrono_literals;

namespace {

using tp = credential_cache_core::time_point;
const tp t0 = tp(std::chrono::seconds(1'700'000'000));
using get_kind = credential_cache_core::get_result;
using state = credential_cache_core::state;

credentials temp(std::string id, tp expires) {
    credentials c{std::move(id), "key", "token", "test"};
    c.expires = expires;
    return c;
}

credentials permanent(std::string id) {
    return credentials{std::move(id), "key", "", "test"};
}

}  // namespace

TEST_CASE("credential cache: the first call waits for the first fetch; calls meanwhile share it") {
    credential_cache_core core({});
    CHECK(core.current_state(t0) == state::none);
    auto a = core.get(t0);
    CHECK(a.what == get_kind::wait);
    CHECK(a.start_fetch);
    CHECK(core.current_state(t0) == state::refreshing);
    auto b = core.get(t0 + 1ms);
    CHECK(b.what == get_kind::wait);
    CHECK_FALSE(b.start_fetch);  // one fetch for everyone
    CHECK(core.waiting() == 2);
    auto r = core.on_fetched({}, temp("A", t0 + 1h), t0 + 10ms);
    CHECK(r.ok);
    CHECK_FALSE(r.refreshed);
    CHECK(r.wake == std::vector<credential_cache_core::waiter_id>{a.waiter, b.waiter});
    CHECK(core.current_state(t0 + 10ms) == state::valid);
    CHECK(core.generation() == 1);
    CHECK(core.fetches() == 1);
    auto c = core.get(t0 + 1s);
    CHECK(c.what == get_kind::use);
    CHECK_FALSE(c.start_fetch);
    REQUIRE(core.usable(t0 + 1s));
    CHECK(core.usable(t0 + 1s)->secret_id == "A");
}

TEST_CASE("credential cache: hour-long credentials refresh 300 s ahead; calls go on meanwhile") {
    credential_cache_core core({});
    core.get(t0);
    core.on_fetched({}, temp("A", t0 + 1h), t0);
    REQUIRE(core.refresh_at());
    CHECK(*core.refresh_at() == t0 + 1h - 300s);
    CHECK(*core.usable_until() == t0 + 1h - 5s);
    CHECK_FALSE(core.get(t0 + 1h - 301s).start_fetch);
    auto a = core.get(t0 + 1h - 300s);
    CHECK(a.what == get_kind::use);
    CHECK(a.start_fetch);  // the first call past the refresh time starts it
    CHECK(core.current_state(t0 + 1h - 300s) == state::refreshing);
    auto b = core.get(t0 + 1h - 200s);
    CHECK(b.what == get_kind::use);  // the current ones meanwhile
    CHECK_FALSE(b.start_fetch);
    auto r = core.on_fetched({}, temp("B", t0 + 2h), t0 + 1h - 100s);
    CHECK(r.ok);
    CHECK(r.refreshed);
    CHECK(r.wake.empty());
    CHECK(core.usable(t0 + 1h)->secret_id == "B");
    CHECK(core.generation() == 2);
}

TEST_CASE("credential cache: 20 s credentials refresh ~6.7 s before expiry, not on every call") {
    credential_cache_core core({});
    core.get(t0);
    core.on_fetched({}, temp("A", t0 + 20s), t0);
    const auto margin = (t0 + 20s) - *core.refresh_at();
    CHECK(margin > 6600ms);
    CHECK(margin < 6700ms);
    // Guard: min(5 s, margin / 2) = ~3.3 s.
    const auto guard = (t0 + 20s) - *core.usable_until();
    CHECK(guard > 3300ms);
    CHECK(guard < 3400ms);
    unsigned fetches = 0;
    for (auto t = t0; t < t0 + 13s; t += 100ms) fetches += core.get(t).start_fetch;
    CHECK(fetches == 0);
    CHECK(core.get(t0 + 14s).start_fetch);
}

TEST_CASE("credential cache: long-lived credentials are never refreshed for age") {
    credential_cache_core core({});
    core.get(t0);
    core.on_fetched({}, permanent("A"), t0);
    CHECK_FALSE(core.refresh_at());
    CHECK_FALSE(core.usable_until());
    auto a = core.get(t0 + 24h * 365);
    CHECK(a.what == get_kind::use);
    CHECK_FALSE(a.start_fetch);
}

TEST_CASE("credential cache: expired credentials are never used; calls wait for the refresh") {
    credential_cache_core core({});
    core.get(t0);
    core.on_fetched({}, temp("A", t0 + 1h), t0);
    CHECK(core.usable(t0 + 1h - 6s));
    CHECK_FALSE(core.usable(t0 + 1h - 5s));  // the guard
    CHECK_FALSE(core.usable(t0 + 2h));
    auto a = core.get(t0 + 2h);  // nobody called for an hour
    CHECK(a.what == get_kind::wait);
    CHECK(a.start_fetch);
    CHECK(core.current_state(t0 + 2h) == state::refreshing);
    auto r = core.on_fetched({}, temp("B", t0 + 3h), t0 + 2h);
    CHECK(r.wake == std::vector<credential_cache_core::waiter_id>{a.waiter});
    CHECK(core.usable(t0 + 2h)->secret_id == "B");
}

TEST_CASE("credential cache: a failed background refresh keeps the current ones and retries with backoff") {
    credential_cache_params p;
    p.retry_backoff_min = 1s;
    p.retry_backoff_max = 4s;
    credential_cache_core core(p);
    core.get(t0);
    core.on_fetched({}, temp("A", t0 + 1h), t0);
    auto t = t0 + 1h - 300s;
    CHECK(core.get(t).start_fetch);
    auto r = core.on_fetched(make_error_code(client_errc::connect_timeout), {}, t);
    CHECK_FALSE(r.ok);
    CHECK(core.consecutive_failures() == 1);
    CHECK(core.current_state(t) == state::valid);
    CHECK(core.usable(t)->secret_id == "A");
    CHECK_FALSE(core.get(t + 999ms).start_fetch);  // backoff 1 s
    CHECK(core.get(t + 1s).start_fetch);
    t += 1s;
    core.on_fetched(make_error_code(client_errc::connect_timeout), {}, t);
    CHECK_FALSE(core.get(t + 1999ms).start_fetch);  // 2 s
    CHECK(core.get(t + 2s).start_fetch);
    t += 2s;
    core.on_fetched(make_error_code(client_errc::connect_timeout), {}, t);
    CHECK_FALSE(core.get(t + 3999ms).start_fetch);  // 4 s
    CHECK(core.get(t + 4s).start_fetch);
    t += 4s;
    core.on_fetched(make_error_code(client_errc::connect_timeout), {}, t);
    CHECK_FALSE(core.get(t + 3999ms).start_fetch);  // capped at 4 s
    CHECK(core.get(t + 4s).start_fetch);
    t += 4s;
    r = core.on_fetched({}, temp("B", t + 1h), t);
    CHECK(r.ok);
    CHECK(core.consecutive_failures() == 0);
}

TEST_CASE("credential cache: a failed fetch with nothing usable fails every waiter; the next call tries again") {
    credential_cache_core core({});
    auto a = core.get(t0);
    auto b = core.get(t0);
    auto r = core.on_fetched(make_error_code(client_errc::credentials_missing), {}, t0 + 1s);
    CHECK_FALSE(r.ok);
    CHECK(r.wake == std::vector<credential_cache_core::waiter_id>{a.waiter, b.waiter});
    CHECK(core.current_state(t0 + 1s) == state::none);
    auto c = core.get(t0 + 1s);  // a waiting call does not wait out a backoff
    CHECK(c.what == get_kind::wait);
    CHECK(c.start_fetch);
}

TEST_CASE("credential cache: credentials already expired on arrival are a failure") {
    credential_cache_core core({});
    auto a = core.get(t0);
    auto r = core.on_fetched({}, temp("A", t0 - 1s), t0);
    CHECK_FALSE(r.ok);
    CHECK(r.expired_on_arrival);
    CHECK(r.wake == std::vector<credential_cache_core::waiter_id>{a.waiter});
    CHECK(core.current() == nullptr);
}

TEST_CASE("credential cache: force_refresh after TokenFailure: one refresh shared by every call that saw it") {
    credential_cache_core core({});
    core.get(t0);
    core.on_fetched({}, temp("A", t0 + 1h), t0);
    const auto g = core.generation();
    CHECK(core.force_refresh(g));        // the first call refused starts the refresh
    CHECK_FALSE(core.force_refresh(g));  // the others join it
    CHECK_FALSE(core.force_refresh(g));
    CHECK(core.fetches() == 2);
    CHECK_FALSE(core.usable(t0 + 1s));  // refused: not used again
    auto w = core.get(t0 + 1s);
    CHECK(w.what == get_kind::wait);
    CHECK_FALSE(w.start_fetch);
    auto r = core.on_fetched({}, temp("B", t0 + 2h), t0 + 2s);
    CHECK(r.ok);
    CHECK(r.wake == std::vector<credential_cache_core::waiter_id>{w.waiter});
    // A refusal of the old generation, seen late: nothing more to do.
    CHECK_FALSE(core.force_refresh(g));
    CHECK(core.usable(t0 + 2s)->secret_id == "B");
    CHECK(core.fetches() == 2);
}

TEST_CASE("credential cache: force_refresh while a background refresh runs joins it") {
    credential_cache_core core({});
    core.get(t0);
    core.on_fetched({}, temp("A", t0 + 1h), t0);
    CHECK(core.get(t0 + 1h - 300s).start_fetch);
    CHECK_FALSE(core.force_refresh(core.generation()));  // the running fetch brings the replacement
    CHECK(core.fetches() == 2);
    CHECK(core.get(t0 + 1h - 299s).what == get_kind::wait);
    core.on_fetched({}, temp("B", t0 + 2h), t0 + 1h - 298s);
    CHECK(core.usable(t0 + 1h - 298s)->secret_id == "B");
}

TEST_CASE("credential cache: a waiter that gives up (deadline) leaves the queue") {
    credential_cache_core core({});
    auto a = core.get(t0);
    auto b = core.get(t0);
    CHECK(core.cancel(a.waiter));
    CHECK_FALSE(core.cancel(a.waiter));
    auto r = core.on_fetched({}, permanent("A"), t0 + 1s);
    CHECK(r.wake == std::vector<credential_cache_core::waiter_id>{b.waiter});
    CHECK_FALSE(core.cancel(b.waiter));  // already woken
}

TEST_CASE("credential cache: the margin rule honours its params") {
    credential_cache_params p;
    p.refresh_margin = 60s;
    p.max_margin_fraction = 0.5;
    p.expiry_guard = 1s;
    credential_cache_core core(p);
    core.get(t0);
    core.on_fetched({}, temp("A", t0 + 1h), t0);
    CHECK(*core.refresh_at() == t0 + 1h - 60s);
    CHECK(*core.usable_until() == t0 + 1h - 1s);
    credential_cache_core short_lived(p);
    short_lived.get(t0);
    short_lived.on_fetched({}, temp("A", t0 + 10s), t0);
    CHECK(*short_lived.refresh_at() == t0 + 5s);
    CHECK(*short_lived.usable_until() == t0 + 9s);
}
