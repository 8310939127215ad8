// The Redis link's reconnect decisions, step by step, with no io_context:
// every row of the table in src/redis/redis_link_fsm.hpp, the backoff
// delays (doubling, cap, jitter, reset after a ready link) and stop from
// every state.
#include "redis_link_fsm.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace cbs::detail;
using namespace std::chrono_literals;
using kind = redis_link_action::kind;
using ev = redis_link_event;
using st = redis_link_state;
using actions = std::vector<redis_link_action>;

namespace {

/// Jitter 0.5: the factor is exactly 1 (0.75 + 0.5 * 0.5).
redis_link_fsm make(bool auth = false, double u = 0.5) {
    return redis_link_fsm(50ms, 1000ms, auth, [u] { return u; });
}

/// From idle to ready (with AUTH when the fsm needs it).
void to_ready(redis_link_fsm& f, bool auth) {
    CHECK(f.on(ev::start) == actions{{kind::start_resolve}});
    CHECK(f.on(ev::resolved) == actions{{kind::start_connect}});
    if (auth) {
        CHECK(f.on(ev::tcp_connected) == actions{{kind::send_auth}});
        CHECK(f.state() == st::authenticating);
        CHECK(f.on(ev::connect_ok) == actions{{kind::notify_ready}});
    } else {
        CHECK(f.on(ev::tcp_connected) == actions{{kind::notify_ready}});
    }
    CHECK(f.state() == st::ready);
}

actions failed(std::chrono::milliseconds d) {
    return {{kind::drop_link}, {kind::notify_failed}, {kind::arm_backoff, d}};
}
actions lost(std::chrono::milliseconds d) {
    return {{kind::drop_link}, {kind::notify_lost}, {kind::arm_backoff, d}};
}

}  // namespace

TEST_CASE("redis link fsm: connect without and with AUTH") {
    auto plain = make(false);
    CHECK(plain.state() == st::idle);
    to_ready(plain, false);
    auto auth = make(true);
    to_ready(auth, true);
    // A second start, and events that do not belong to the state, do nothing.
    CHECK(auth.on(ev::start).empty());
    CHECK(auth.on(ev::resolved).empty());
    CHECK(auth.on(ev::connect_ok).empty());
    CHECK(auth.on(ev::backoff_elapsed).empty());
    CHECK(auth.state() == st::ready);
}

TEST_CASE("redis link fsm: the delays double up to backoff_max, then stay there") {
    auto f = make();
    CHECK(f.on(ev::start) == actions{{kind::start_resolve}});
    std::vector<std::chrono::milliseconds> delays;
    for (int i = 0; i < 8; ++i) {
        auto a = f.on(i % 2 == 0 ? ev::connect_failed : ev::timeout);
        REQUIRE(a.size() == 3);
        CHECK(a[0].what == kind::drop_link);
        CHECK(a[1].what == kind::notify_failed);
        CHECK(a[2].what == kind::arm_backoff);
        delays.push_back(a[2].delay);
        CHECK(f.state() == st::backoff);
        CHECK(f.on(ev::connect_failed).empty());  // (a late event of the failed attempt)
        CHECK(f.on(ev::backoff_elapsed) == actions{{kind::start_resolve}});
        CHECK(f.state() == st::resolving);
    }
    CHECK(delays == std::vector<std::chrono::milliseconds>{50ms, 100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms, 1000ms});
}

TEST_CASE("redis link fsm: the jitter is +-25% of the base, and never above backoff_max") {
    auto low = make(false, 0.0);
    low.on(ev::start);
    CHECK(low.on(ev::connect_failed) == failed(38ms));  // 50 * 0.75 = 37.5, rounded
    low.on(ev::backoff_elapsed);
    CHECK(low.on(ev::connect_failed) == failed(75ms));

    auto high = make(false, 0.999);
    high.on(ev::start);
    CHECK(high.on(ev::connect_failed) == failed(62ms));  // 50 * 1.2495
    for (int i = 0; i < 4; ++i) {                        // bases 100, 200, 400, 800
        high.on(ev::backoff_elapsed);
        high.on(ev::connect_failed);
    }
    high.on(ev::backoff_elapsed);
    CHECK(high.on(ev::connect_failed) == failed(1000ms));  // 1000 * 1.2495, capped

    // A source out of range is clamped to the +-25% band.
    auto wild = redis_link_fsm(100ms, 1000ms, false, [] { return 7.0; });
    wild.on(ev::start);
    CHECK(wild.on(ev::connect_failed) == failed(125ms));
}

TEST_CASE("redis link fsm: the delay starts over once a link is ready") {
    auto f = make(true);
    f.on(ev::start);
    CHECK(f.on(ev::connect_failed) == failed(50ms));
    f.on(ev::backoff_elapsed);
    f.on(ev::resolved);
    CHECK(f.on(ev::lost) == failed(100ms));  // lost during the connect: an attempt that failed
    f.on(ev::backoff_elapsed);
    f.on(ev::resolved);
    f.on(ev::tcp_connected);
    CHECK(f.on(ev::connect_failed) == failed(200ms));  // AUTH refused
    CHECK(f.next_backoff() == 400ms);
    f.on(ev::backoff_elapsed);
    f.on(ev::resolved);
    f.on(ev::tcp_connected);
    CHECK(f.on(ev::connect_ok) == actions{{kind::notify_ready}});
    CHECK(f.next_backoff() == 50ms);
    CHECK(f.on(ev::lost) == lost(50ms));
    CHECK(f.on(ev::backoff_elapsed) == actions{{kind::start_resolve}});
    CHECK(f.on(ev::timeout) == failed(100ms));
}

TEST_CASE("redis link fsm: a command timeout in ready loses the link and backs off") {
    auto f = make();
    to_ready(f, false);
    CHECK(f.on(ev::timeout) == lost(50ms));
    CHECK(f.state() == st::backoff);
    CHECK(f.on(ev::timeout).empty());
    CHECK(f.on(ev::backoff_elapsed) == actions{{kind::start_resolve}});
    CHECK(f.on(ev::resolved) == actions{{kind::start_connect}});
    CHECK(f.on(ev::tcp_connected) == actions{{kind::notify_ready}});
}

TEST_CASE("redis link fsm: stop from every state, and nothing after it") {
    const std::vector<st> states = {st::idle,           st::resolving, st::connecting,
                                    st::authenticating, st::ready,     st::backoff};
    for (const st target : states) {
        CAPTURE(to_string(target));
        auto f = make(true);
        // The shortest way to `target`.
        const std::vector<ev> path = {ev::start, ev::resolved, ev::tcp_connected, ev::connect_ok};
        for (std::size_t i = 0; f.state() != target; ++i) {
            if (target == st::backoff) {
                f.on(ev::start);
                f.on(ev::connect_failed);
                break;
            }
            REQUIRE(i < path.size());
            f.on(path[i]);
        }
        REQUIRE(f.state() == target);
        CHECK(f.on(ev::stop) == actions{{kind::drop_link}, {kind::cancel_timers}});
        CHECK(f.state() == st::stopped);
        for (const ev e : {ev::start, ev::resolved, ev::tcp_connected, ev::connect_ok, ev::connect_failed, ev::lost,
                           ev::timeout, ev::backoff_elapsed, ev::stop}) {
            CHECK(f.on(e).empty());
        }
        CHECK(f.state() == st::stopped);
    }
}
