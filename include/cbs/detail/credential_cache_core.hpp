// The credential cache's decisions, sans-io: when a call may use the current
// credentials, when it must wait, when a fetch starts, what a finished fetch
// wakes. No clock and no I/O: the async layer (src/net/credential_cache.cpp)
// passes `now` (wall time in the service's clock: the client's clock plus
// any skew it learnt) and performs the fetches this asks for. Unit-tested on
// an injected clock (test/unit/test_credential_cache_core.cpp).
//
// States (state()):
//   none        no usable credentials and no fetch running (the start, after
//               a failed first fetch, after expiry or a forced refresh)
//   valid       usable credentials, no fetch running
//   refreshing  a fetch is running (with or without usable credentials)
//
// Transitions (each has a unit test):
//   get: usable, before the refresh time           -> use
//   get: usable, refresh time reached, no fetch,
//        not in a failure backoff                  -> use + start a background fetch
//   get: not usable (none / expired / forced)      -> wait (+ start a fetch if none runs)
//   fetched ok                                     -> valid; every waiter uses the new ones
//   fetched ok, already expired (or within guard)  -> treated as a failure
//   fetched error, current still usable            -> keep them; retry after a backoff
//   fetched error, none usable                     -> every waiter fails with the error
//   force_refresh(g) for the current generation g  -> current unusable; a fetch starts
//                                                     unless one runs (shared by all)
//   force_refresh(g) for an older generation       -> nothing (already replaced)
//   cancel(waiter) (the call's deadline)           -> the waiter leaves
#pragma once

#include <cbs/credential_provider.hpp>
#include <cbs/credentials.hpp>
#include <cbs/error.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

namespace cbs::detail {

class credential_cache_core {
public:
    using clock = std::chrono::system_clock;
    using time_point = clock::time_point;
    using waiter_id = std::uint64_t;

    enum class state { none, valid, refreshing };

    explicit credential_cache_core(const credential_cache_params& params);

    struct get_result {
        enum kind { use, wait } what = wait;
        bool start_fetch = false;  ///< the caller must start a fetch now (then call on_fetched)
        waiter_id waiter = 0;      ///< wait: the ticket woken by on_fetched
    };
    /// A call needs credentials at `now`. use: current() holds them.
    get_result get(time_point now);

    /// Credentials usable at `now` without waiting (and without starting
    /// anything), or nullptr. For signing right before a write.
    const credentials* usable(time_point now) const;

    struct fetched_result {
        std::vector<waiter_id> wake;  ///< waiters to wake: they use current() if ok, else fail with ec
        bool ok = false;
        bool refreshed = false;           ///< new credentials replaced earlier ones (a refresh, not the first fetch)
        bool expired_on_arrival = false;  ///< the fetch "succeeded" with credentials already past their use
    };
    /// The fetch started by get()/force_refresh() ended at `now`.
    fetched_result on_fetched(error_code ec, credentials creds, time_point now);

    /// A call signed with generation `generation` was refused with
    /// AuthFailure.TokenFailure. Returns true when the caller must start a
    /// fetch (then call on_fetched).
    bool force_refresh(std::uint64_t generation);

    /// The waiter gave up (deadline, cancellation). False if unknown
    /// (already woken).
    bool cancel(waiter_id w);

    state current_state(time_point now) const noexcept;
    /// The current credentials (valid after get() said use, or after a
    /// successful on_fetched), possibly unusable; nullptr before any.
    const credentials* current() const noexcept { return current_ ? &*current_ : nullptr; }
    /// Bumped by every successful fetch; 0 before the first.
    std::uint64_t generation() const noexcept { return generation_; }
    /// When a background refresh becomes due (none for long-lived credentials).
    std::optional<time_point> refresh_at() const noexcept { return refresh_at_; }
    /// When the current credentials stop being used (none: long-lived).
    std::optional<time_point> usable_until() const noexcept { return usable_until_; }
    /// Fetches started so far, and failed ones since the last success.
    std::uint64_t fetches() const noexcept { return fetches_; }
    unsigned consecutive_failures() const noexcept { return failures_; }
    std::size_t waiting() const noexcept { return waiters_.size(); }
    bool fetching() const noexcept { return fetching_; }

private:
    bool is_usable(time_point now) const noexcept;
    void start_fetch() noexcept;

    credential_cache_params params_;
    std::optional<credentials> current_;
    std::uint64_t generation_ = 0;
    std::optional<time_point> refresh_at_, usable_until_;
    bool forced_ = false;    // current refused by the service: not usable
    bool fetching_ = false;  // a fetch is running
    time_point retry_at_{};  // after a failed background refresh
    unsigned failures_ = 0;
    std::uint64_t fetches_ = 0;
    std::deque<waiter_id> waiters_;
    waiter_id next_waiter_ = 1;
};

}  // namespace cbs::detail
