// The async layer of the credential cache: runs the provider's fetches that
// credential_cache_core asks for and parks calls that must wait, each until
// its own deadline. Internal; not thread-safe: every member runs on the
// executor given (the client's strand), which is also where the provider's
// handler runs.
#pragma once

#include <cbs/credential_provider.hpp>
#include <cbs/detail/credential_cache_core.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace cbs::detail {

class credential_cache {
public:
    using wall_clock = credential_cache_core::clock;
    /// `now` gives the wall time in the service's clock (the client's clock
    /// plus the skew it learnt).
    credential_cache(boost::asio::any_io_executor ex, std::shared_ptr<credential_provider> provider,
                     const credential_cache_params& params, std::function<wall_clock::time_point()> now);
    /// Long-lived credentials known up front (client_params::creds): usable
    /// at once, no first fetch, so a call with them never suspends here (and
    /// calls keep the order they came in). `provider` still serves a forced
    /// refresh.
    void seed(credentials creds);

    /// Pending fetches complete into nothing; waiting calls end (cancelled).
    ~credential_cache();
    credential_cache(const credential_cache&) = delete;
    credential_cache& operator=(const credential_cache&) = delete;

    /// Returns once usable credentials exist (then usable() has them): {} ;
    /// or the fetch's error (diag.client_message says which source failed);
    /// client_errc::deadline_exceeded when `deadline` comes first;
    /// client_errc::cancelled when the awaiting coroutine is cancelled. May
    /// start a background refresh and return at once.
    boost::asio::awaitable<error_code> async_ensure(std::chrono::steady_clock::time_point deadline, diagnostics& diag);

    /// The credentials to sign with now, and their generation; nullptr when
    /// none are usable (expired or refused since async_ensure).
    const credentials* usable(std::uint64_t& generation) const;

    /// The latest credentials fetched (usable or not), nullptr before any.
    const credentials* current() const noexcept;

    /// The service refused credentials of `generation` (AuthFailure.TokenFailure).
    void force_refresh(std::uint64_t generation);

    struct cache_stats {
        std::uint64_t fetches = 0;    ///< fetches started (the first included)
        std::uint64_t refreshes = 0;  ///< fetches that replaced earlier credentials
        std::uint64_t failures = 0;   ///< fetches that failed
        std::string source;           ///< where the current credentials came from ("" before any)
        std::string provider;         ///< the provider's describe()
    };
    cache_stats stats() const;

    struct shared;  // state shared with in-flight fetch handlers

private:
    void start_fetch();

    std::shared_ptr<shared> s_;
};

}  // namespace cbs::detail
