#include <cbs/detail/pool_core.hpp>

#include <algorithm>
#include <cassert>

namespace cbs::detail {

pool_core::pool_core(std::size_t max_size, clock::duration idle_timeout)
    : max_size_(max_size == 0 ? 1 : max_size), idle_timeout_(idle_timeout) {}

pool_core::lease_action pool_core::request(clock::time_point now) {
    // Reuse the most recently used connection if it is still fresh. The async
    // layer calls take_expired(now) first, so expired ones are rare here; one
    // that is found is left for the next take_expired() to close.
    if (!idle_.empty() && now - idle_.back().since < idle_timeout_) {
        auto entry = idle_.back();
        idle_.pop_back();
        return {lease_action::use_idle, entry.id, 0};
    }
    if (open_ < max_size_ && waiters_.empty()) {
        ++open_;
        return {lease_action::connect_new, next_conn_++, 0};
    }
    auto w = next_waiter_++;
    waiters_.push_back(w);
    return {lease_action::wait, 0, w};
}

std::optional<pool_core::wake> pool_core::on_connect_failed(conn_id) {
    assert(open_ > 0);
    --open_;
    if (waiters_.empty()) return std::nullopt;
    auto w = waiters_.front();
    waiters_.pop_front();
    ++open_;
    return wake{w, wake::connect_new, next_conn_++};
}

std::optional<pool_core::wake> pool_core::release(conn_id id, bool reusable, clock::time_point now) {
    if (!waiters_.empty()) {
        auto w = waiters_.front();
        waiters_.pop_front();
        if (reusable) return wake{w, wake::take_conn, id};
        // The discarded connection's slot goes to the waiter, who connects.
        return wake{w, wake::connect_new, next_conn_++};
    }
    if (reusable) {
        idle_.push_back({id, now});
    } else {
        assert(open_ > 0);
        --open_;
    }
    return std::nullopt;
}

void pool_core::discard_idle(conn_id id) {
    // The connection was already removed from idle_ by request(); only the
    // open count changes.
    (void)id;
    assert(open_ > 0);
    --open_;
}

bool pool_core::cancel(waiter_id w) {
    auto it = std::find(waiters_.begin(), waiters_.end(), w);
    if (it == waiters_.end()) return false;
    waiters_.erase(it);
    return true;
}

std::vector<pool_core::conn_id> pool_core::take_expired(clock::time_point now) {
    std::vector<conn_id> out;
    auto keep = std::stable_partition(idle_.begin(), idle_.end(),
                                      [&](const idle_entry& e) { return now - e.since < idle_timeout_; });
    for (auto it = keep; it != idle_.end(); ++it) out.push_back(it->id);
    idle_.erase(keep, idle_.end());
    open_ -= out.size();
    return out;
}

pool_core::shutdown_result pool_core::shutdown() {
    shutdown_result r;
    for (auto& e : idle_) r.idle.push_back(e.id);
    open_ -= idle_.size();
    idle_.clear();
    r.waiters.assign(waiters_.begin(), waiters_.end());
    waiters_.clear();
    return r;
}

}  // namespace cbs::detail
