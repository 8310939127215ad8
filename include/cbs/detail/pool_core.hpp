// Pure bookkeeping of the connection pool: which connections exist, which are
// idle since when, who waits, what to do next. No I/O and no clock: the async
// layer (src/net/connection_pool.cpp) passes `now` in and performs the actions this
// returns. Unit-tested without an io_context.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

namespace cbs::detail {

class pool_core {
public:
    using clock = std::chrono::steady_clock;
    using conn_id = std::uint64_t;
    using waiter_id = std::uint64_t;

    struct lease_action {
        enum kind { use_idle, connect_new, wait } what;
        conn_id conn = 0;      ///< use_idle: the connection; connect_new: the reserved id
        waiter_id waiter = 0;  ///< wait: the waiter's ticket
    };

    /// What a release or a failed connect hands on to the head of the queue.
    struct wake {
        waiter_id waiter = 0;
        enum kind { take_conn, connect_new } what = take_conn;
        conn_id conn = 0;  ///< take_conn: the connection handed over; connect_new: reserved id
    };

    pool_core(std::size_t max_size, clock::duration idle_timeout);

    /// A caller wants a connection at `now`. Prefers the most recently used
    /// idle connection that has not expired (expired ones are returned by
    /// `take_expired`), else reserves a slot to connect, else queues (FIFO).
    lease_action request(clock::time_point now);

    /// A connect reserved by `connect_new` finished. On failure the slot is
    /// freed and may go to the head waiter (who will then try to connect).
    std::optional<wake> on_connect_failed(conn_id id);

    /// The holder gives `id` back. `reusable` false discards it (error, server
    /// asked to close, response needed EOF). Returns the waiter to wake, if any.
    std::optional<wake> release(conn_id id, bool reusable, clock::time_point now);

    /// An idle connection turned out unusable on checkout (peer closed it while
    /// idle): forget it. The caller then calls `request` again.
    void discard_idle(conn_id id);

    /// A waiter gave up (cancelled or timed out). Returns false if it was not
    /// queued any more (it was already woken: the caller then owns a wake).
    bool cancel(waiter_id w);

    /// Idle connections past `idle_timeout` at `now`; they are forgotten here
    /// and the caller closes them.
    std::vector<conn_id> take_expired(clock::time_point now);

    /// Closes the pool: every idle connection is returned for closing, waiters
    /// are returned for waking with an error, further requests must not come.
    struct shutdown_result {
        std::vector<conn_id> idle;
        std::vector<waiter_id> waiters;
    };
    shutdown_result shutdown();

    std::size_t open() const noexcept { return open_; }  ///< idle + in use + connecting
    std::size_t idle() const noexcept { return idle_.size(); }
    std::size_t waiting() const noexcept { return waiters_.size(); }
    std::uint64_t connects() const noexcept { return next_conn_ - 1; }  ///< connects ever started

private:
    struct idle_entry {
        conn_id id;
        clock::time_point since;
    };
    std::size_t max_size_;
    clock::duration idle_timeout_;
    std::size_t open_ = 0;
    std::vector<idle_entry> idle_;  // oldest first; reuse from the back (LIFO keeps few warm)
    std::deque<waiter_id> waiters_;
    conn_id next_conn_ = 1;
    waiter_id next_waiter_ = 1;
};

}  // namespace cbs::detail
