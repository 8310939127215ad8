// Name lookup on a detached thread, waited for with a timer (see bounded_resolve.hpp).
#include <cbs/detail/bounded_resolve.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <tuple>
#include <utility>

#include <netdb.h>
#include <sys/socket.h>

namespace cbs::detail {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

std::atomic<std::size_t> threads_running{0};

/// One caller waiting for a lookup. The result fields are written on `ex`
/// (the lookup thread posts there) before `timer` is cancelled; `abandoned`
/// and the use of `timer` are guarded by lookup::m, and the waiter leaves
/// lookup::waiters (same lock) before its timer is destroyed.
struct waiter {
    asio::any_io_executor ex;
    asio::steady_timer* timer = nullptr;  // the waiting coroutine's own
    bool abandoned = false;               // the caller stopped waiting
    bool done = false;                    // the result below is in
    error_code ec;
    std::vector<tcp::endpoint> endpoints;
};

/// One running lookup, shared by the callers that want the same name.
struct lookup {
    std::mutex m;
    bool finished = false;                         // guarded by m
    error_code ec;                                 // guarded by m (when finished)
    std::vector<tcp::endpoint> endpoints;          // guarded by m (when finished)
    std::vector<std::shared_ptr<waiter>> waiters;  // guarded by m
};

using lookup_key = std::tuple<resolve_function, std::string, std::uint16_t>;

struct registry {
    std::mutex m;
    std::map<lookup_key, std::weak_ptr<lookup>> running;
};

// Never destroyed: a lookup thread may still run while static objects are
// torn down at exit.
registry& the_registry() {
    static auto* r = new registry;
    return *r;
}

// std::thread keeps its own copies of the arguments for the thread's whole run.
void run_lookup(const std::shared_ptr<lookup>& lk, const lookup_key& key) {
    std::vector<tcp::endpoint> eps;
    error_code ec;
    try {
        ec = std::get<0>(key)(std::get<1>(key), std::get<2>(key), eps);
    } catch (...) {
        ec = asio::error::no_recovery;
    }
    {
        auto& reg = the_registry();
        std::lock_guard g(reg.m);
        if (auto it = reg.running.find(key); it != reg.running.end() && it->second.lock() == lk) reg.running.erase(it);
    }
    // Posting under the lock: a waiter still listed is still suspended, so its
    // executor is alive; one that gave up removed itself first (same lock).
    std::lock_guard g(lk->m);
    lk->finished = true;
    lk->ec = ec;
    lk->endpoints = eps;
    for (auto& w : lk->waiters) {
        asio::post(w->ex, [lk, w, ec, eps]() mutable {
            // Under the lock too: with an executor that does not serialise
            // (several threads running a plain io_context), the waiter may be
            // giving up on another thread right now.
            std::lock_guard g2(lk->m);
            if (w->abandoned) return;
            w->ec = ec;
            w->endpoints = std::move(eps);
            w->done = true;
            w->timer->cancel();
        });
    }
    lk->waiters.clear();
    --threads_running;
}

error_code from_gai(int rc) {
    switch (rc) {
        case EAI_NONAME:
#ifdef EAI_NODATA
#if EAI_NODATA != EAI_NONAME
        case EAI_NODATA:
#endif
#endif
            return asio::error::host_not_found;
        case EAI_AGAIN:
            return asio::error::host_not_found_try_again;
        case EAI_SERVICE:
            return asio::error::service_not_found;
        case EAI_FAMILY:
            return asio::error::address_family_not_supported;
        case EAI_MEMORY:
            return asio::error::no_memory;
        case EAI_SOCKTYPE:
            return asio::error::socket_type_not_supported;
        case EAI_SYSTEM:
            return error_code(errno, boost::system::system_category());
        default:
            return asio::error::no_recovery;
    }
}

}  // namespace

error_code system_resolve(const std::string& host, std::uint16_t port, std::vector<tcp::endpoint>& out) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    const auto service = std::to_string(port);
    const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
    if (rc != 0) return from_gai(rc);
    for (auto* ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
        tcp::endpoint ep;
        std::memcpy(ep.data(), ai->ai_addr, std::min<std::size_t>(ai->ai_addrlen, ep.capacity()));
        ep.resize(ai->ai_addrlen);
        out.push_back(ep);
    }
    ::freeaddrinfo(res);
    if (out.empty()) return asio::error::host_not_found;
    return {};
}

std::size_t resolves_running() noexcept {
    return threads_running.load();
}

asio::awaitable<error_code> async_resolve_bounded(resolve_function fn, std::string host, std::uint16_t port,
                                                  std::chrono::milliseconds timeout, std::vector<tcp::endpoint>& out) {
    out.clear();
    error_code not_ip;
    const auto addr = asio::ip::make_address(host, not_ip);
    if (!not_ip) {
        out.emplace_back(addr, port);
        co_return error_code{};
    }

    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer timer(ex, timeout);
    auto w = std::make_shared<waiter>();
    w->ex = ex;
    w->timer = &timer;

    // Join a running lookup of the same name, or start one.
    lookup_key key{fn, host, port};
    std::shared_ptr<lookup> lk;
    error_code start_failed;
    {
        auto& reg = the_registry();
        std::lock_guard g(reg.m);
        auto& slot = reg.running[key];
        lk = slot.lock();
        if (!lk) {
            lk = std::make_shared<lookup>();
            ++threads_running;
            try {
                std::thread(run_lookup, lk, key).detach();
                slot = lk;
            } catch (const std::system_error& e) {
                --threads_running;
                reg.running.erase(key);
                lk.reset();
                start_failed = error_code(e.code().value(), boost::system::generic_category());
            }
        }
    }
    if (start_failed) co_return start_failed;
    {
        std::lock_guard g(lk->m);
        if (lk->finished) {  // finished between the registry look-up and here
            out = lk->endpoints;
            co_return lk->ec;
        }
        lk->waiters.push_back(w);
    }
    // However this frame ends (result, timeout, cancellation, or destroyed
    // with its io_context), the lookup thread must not reach `timer` again.
    struct stop_waiting {
        lookup& lk;
        std::shared_ptr<waiter> w;
        ~stop_waiting() {
            std::lock_guard g(lk.m);
            w->abandoned = true;
            std::erase(lk.waiters, w);
        }
    } guard{*lk, w};

    auto [tec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    bool answered = false;
    error_code answer;
    {
        // From here on the lookup's post does nothing (it checks under the
        // same lock), so reading the result cannot race with it.
        std::lock_guard g(lk->m);
        w->abandoned = true;
        if (w->done) {
            answered = true;
            answer = w->ec;
            out = std::move(w->endpoints);
        }
    }
    if (answered) co_return answer;
    if (tec == asio::error::operation_aborted) co_return client_errc::cancelled;
    co_return client_errc::resolve_timeout;
}

}  // namespace cbs::detail
