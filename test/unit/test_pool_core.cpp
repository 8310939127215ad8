// Pool bookkeeping, with no I/O and a hand-driven clock.
#include <cbs/detail/pool_core.hpp>

#include <doctest/doctest.h>

using cbs::detail::pool_core;
using namespace std::chrono_literals;
using act = pool_core::lease_action;

namespace {
const pool_core::clock::time_point t0{};
}

TEST_CASE("pool_core: connects up to max_size, then queues FIFO") {
    pool_core p(2, 30s);
    auto a = p.request(t0);
    auto b = p.request(t0);
    CHECK(a.what == act::connect_new);
    CHECK(b.what == act::connect_new);
    CHECK(a.conn != b.conn);
    CHECK(p.open() == 2);
    auto w1 = p.request(t0);
    auto w2 = p.request(t0);
    REQUIRE(w1.what == act::wait);
    REQUIRE(w2.what == act::wait);
    CHECK(p.waiting() == 2);

    // First release goes to the first waiter, with the same connection.
    auto wk = p.release(a.conn, true, t0 + 1s);
    REQUIRE(wk);
    CHECK(wk->waiter == w1.waiter);
    CHECK(wk->what == pool_core::wake::take_conn);
    CHECK(wk->conn == a.conn);
    // A discarded connection hands its slot to the next waiter, who connects.
    wk = p.release(b.conn, false, t0 + 1s);
    REQUIRE(wk);
    CHECK(wk->waiter == w2.waiter);
    CHECK(wk->what == pool_core::wake::connect_new);
    CHECK(wk->conn != b.conn);
    CHECK(p.open() == 2);
    CHECK(p.waiting() == 0);
}

TEST_CASE("pool_core: reuses idle connections, most recent first") {
    pool_core p(4, 30s);
    auto a = p.request(t0);
    auto b = p.request(t0);
    p.release(a.conn, true, t0 + 1s);
    p.release(b.conn, true, t0 + 2s);
    CHECK(p.idle() == 2);
    auto r = p.request(t0 + 3s);
    CHECK(r.what == act::use_idle);
    CHECK(r.conn == b.conn);
    CHECK(p.open() == 2);
    CHECK(p.connects() == 2);
}

TEST_CASE("pool_core: a connection that must close is not kept") {
    pool_core p(1, 30s);
    auto a = p.request(t0);
    CHECK_FALSE(p.release(a.conn, false, t0));
    CHECK(p.open() == 0);
    CHECK(p.idle() == 0);
    CHECK(p.request(t0).what == act::connect_new);
}

TEST_CASE("pool_core: idle connections expire after idle_timeout") {
    pool_core p(4, 30s);
    auto a = p.request(t0);
    auto b = p.request(t0);
    p.release(a.conn, true, t0);
    p.release(b.conn, true, t0 + 10s);
    CHECK(p.take_expired(t0 + 29s).empty());
    auto gone = p.take_expired(t0 + 30s);
    REQUIRE(gone.size() == 1);
    CHECK(gone[0] == a.conn);
    CHECK(p.open() == 1);
    CHECK(p.take_expired(t0 + 39s).empty());  // b expires at t0 + 40s
    // An expired connection is never handed out, even if not swept yet.
    auto r = p.request(t0 + 41s);
    CHECK(r.what == act::connect_new);
}

TEST_CASE("pool_core: a cancelled waiter leaves the queue; later ones keep their order") {
    pool_core p(1, 30s);
    auto a = p.request(t0);
    auto w1 = p.request(t0);
    auto w2 = p.request(t0);
    auto w3 = p.request(t0);
    CHECK(p.cancel(w2.waiter));
    CHECK_FALSE(p.cancel(w2.waiter));
    CHECK(p.waiting() == 2);
    auto wk = p.release(a.conn, true, t0);
    CHECK(wk->waiter == w1.waiter);
    wk = p.release(a.conn, true, t0);
    CHECK(wk->waiter == w3.waiter);
    // Already woken: cancel reports false, the wake must be honoured.
    CHECK_FALSE(p.cancel(w3.waiter));
}

TEST_CASE("pool_core: a failed connect frees the slot for the head waiter") {
    pool_core p(1, 30s);
    auto a = p.request(t0);
    auto w = p.request(t0);
    auto wk = p.on_connect_failed(a.conn);
    REQUIRE(wk);
    CHECK(wk->waiter == w.waiter);
    CHECK(wk->what == pool_core::wake::connect_new);
    CHECK(p.open() == 1);
    CHECK_FALSE(p.on_connect_failed(wk->conn));
    CHECK(p.open() == 0);
}

TEST_CASE("pool_core: a stale idle connection discarded at checkout frees its slot") {
    pool_core p(1, 30s);
    auto a = p.request(t0);
    p.release(a.conn, true, t0);
    auto r = p.request(t0 + 1s);
    REQUIRE(r.what == act::use_idle);
    p.discard_idle(r.conn);
    CHECK(p.open() == 0);
    CHECK(p.request(t0 + 1s).what == act::connect_new);
}

TEST_CASE("pool_core: shutdown returns idle connections and waiters") {
    pool_core p(1, 30s);
    auto a = p.request(t0);
    auto w = p.request(t0);
    auto s = p.shutdown();
    CHECK(s.idle.empty());
    REQUIRE(s.waiters.size() == 1);
    CHECK(s.waiters[0] == w.waiter);
    p.release(a.conn, true, t0);
    s = p.shutdown();
    CHECK(s.idle.size() == 1);
    CHECK(p.open() == 0);
}
