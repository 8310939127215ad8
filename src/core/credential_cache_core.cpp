// The credential cache's decisions (see credential_cache_core.hpp).
#include <cbs/detail/credential_cache_core.hpp>

#include <algorithm>

namespace cbs::detail {

credential_cache_core::credential_cache_core(const credential_cache_params& params) : params_(params) {}

bool credential_cache_core::is_usable(time_point now) const noexcept {
    return current_ && !forced_ && (!usable_until_ || now < *usable_until_);
}

void credential_cache_core::start_fetch() noexcept {
    fetching_ = true;
    ++fetches_;
}

credential_cache_core::state credential_cache_core::current_state(time_point now) const noexcept {
    if (fetching_) return state::refreshing;
    return is_usable(now) ? state::valid : state::none;
}

const credentials* credential_cache_core::usable(time_point now) const {
    return is_usable(now) ? &*current_ : nullptr;
}

credential_cache_core::get_result credential_cache_core::get(time_point now) {
    get_result r;
    if (is_usable(now)) {
        r.what = get_result::use;
        // Ahead of expiry, the first call past the refresh time starts the
        // refresh and goes on with the current credentials; so do the calls
        // after it while the refresh runs.
        if (!fetching_ && refresh_at_ && now >= *refresh_at_ && now >= retry_at_) {
            start_fetch();
            r.start_fetch = true;
        }
        return r;
    }
    r.what = get_result::wait;
    r.waiter = next_waiter_++;
    waiters_.push_back(r.waiter);
    if (!fetching_) {
        start_fetch();
        r.start_fetch = true;
    }
    return r;
}

credential_cache_core::fetched_result credential_cache_core::on_fetched(error_code ec, credentials creds,
                                                                        time_point now) {
    fetching_ = false;
    fetched_result r;
    r.wake.assign(waiters_.begin(), waiters_.end());
    waiters_.clear();

    std::optional<time_point> refresh_at, usable_until;
    if (!ec && creds.expires) {
        // The margin is a fraction of the lifetime at most, so that short
        // credentials are not refreshed on every call; the guard is half the
        // margin at most, so that a refresh always has time to land before
        // calls must wait for it.
        const auto lifetime = *creds.expires - now;
        const auto by_fraction = std::chrono::duration_cast<clock::duration>(lifetime * params_.max_margin_fraction);
        const auto margin =
            std::max(clock::duration::zero(), std::min<clock::duration>(params_.refresh_margin, by_fraction));
        const auto guard = std::min<clock::duration>(params_.expiry_guard, margin / 2);
        refresh_at = *creds.expires - margin;
        usable_until = *creds.expires - guard;
        if (*usable_until <= now) {
            r.expired_on_arrival = true;
            ec = make_error_code(client_errc::credentials_invalid);
        }
    }
    if (ec) {
        // Keep whatever is still usable; try again after a backoff that
        // doubles with each failure in a row.
        ++failures_;
        auto backoff = params_.retry_backoff_min;
        for (unsigned i = 1; i < failures_ && backoff < params_.retry_backoff_max; ++i) backoff *= 2;
        retry_at_ = now + std::min(backoff, params_.retry_backoff_max);
        return r;
    }
    r.ok = true;
    r.refreshed = generation_ > 0;
    current_ = std::move(creds);
    ++generation_;
    refresh_at_ = refresh_at;
    usable_until_ = usable_until;
    forced_ = false;
    failures_ = 0;
    retry_at_ = {};
    return r;
}

bool credential_cache_core::force_refresh(std::uint64_t generation) {
    // Only the credentials the service refused, and only once: calls that
    // saw the same refusal share this refresh, and a refusal of credentials
    // already replaced needs none.
    if (!current_ || generation != generation_ || forced_) return false;
    forced_ = true;
    if (fetching_) return false;  // the running fetch brings the replacement
    start_fetch();
    return true;
}

bool credential_cache_core::cancel(waiter_id w) {
    auto it = std::find(waiters_.begin(), waiters_.end(), w);
    if (it == waiters_.end()) return false;
    waiters_.erase(it);
    return true;
}

}  // namespace cbs::detail
