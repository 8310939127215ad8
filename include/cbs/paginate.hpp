// cbs-async: every page of a Describe* call, and batching of id filters.
//
// Note for GCC 12: pass requests as named objects, not braced temporaries,
// inside a co_await expression (`co_await f(c, req, ...)`, not
// `co_await f(c, {}, ...)`): GCC 12 moves a braced temporary passed by value
// there with memcpy, which corrupts a short std::string in it.
//
//   // All the disks of a fleet, 100 instance ids per DescribeDisks filter:
//   for (auto& req : cbs::disks_by_instance_batches(instance_ids)) {
//       auto r = co_await cbs::async_describe_all_disks(c, std::move(req), cbs::as_result);
//       if (!r) { /* r.ec, r.diag */ }
//       for (auto& d : r.value) ...
//   }
//
// The async helpers are templates on the client type so that any type with
// cbs::client's `async_invoke(req, call_options, cbs::as_result)` works (a
// fake in tests); with cbs::client they are used as written above. They ask
// for one page at a time (each page is one call, paced and retried by the
// client like any other).
#pragma once

#include <cbs/client.hpp>
#include <cbs/describe_actions.hpp>
#include <cbs/detail/async_ops.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

namespace cbs {

/// One DescribeDisks request per chunk of `per_call` instance ids: filter
/// instance-id with the chunk as Values, Limit 100, Offset 0, in the order
/// given (ids are not deduplicated). per_call 0 means 100. Each request may
/// need several pages (an instance has several disks): send it with
/// async_describe_all_disks(). No ids: no requests.
std::vector<describe_disks_request> disks_by_instance_batches(std::span<const std::string> instance_ids,
                                                              std::size_t per_call = 100);

/// One DescribeSnapshotGroups request per chunk of `per_call` group ids:
/// filter snapshot-group-id with the chunk as Values, Limit 100, Offset 0.
/// per_call 0 means 100. With per_call <= 100 each request is answered in one
/// page, so polling N groups costs about N/100 calls. No ids: no requests.
std::vector<describe_snapshot_groups_request> snapshot_groups_by_id_batches(std::span<const std::string> group_ids,
                                                                            std::size_t per_call = 100);

namespace detail {

inline std::vector<disk>& page_items(describe_disks_response& r) noexcept {
    return r.disk_set;
}
inline std::vector<snapshot_group>& page_items(describe_snapshot_groups_response& r) noexcept {
    return r.snapshot_group_set;
}
inline std::vector<snapshot>& page_items(describe_snapshots_response& r) noexcept {
    return r.snapshot_set;
}

inline const std::string& item_id(const disk& d) noexcept {
    return d.disk_id;
}
inline const std::string& item_id(const snapshot_group& g) noexcept {
    return g.snapshot_group_id;
}
inline const std::string& item_id(const snapshot& s) noexcept {
    return s.snapshot_id;
}

/// The std::vector of items of a Describe* request's response.
template <class Request>
using item_vector_t = std::remove_reference_t<decltype(page_items(std::declval<typename Request::response_type&>()))>;

/// Adds one page's diagnostics to the whole call's: attempts add up, every
/// RequestId is kept; on failure the page's error details are taken.
inline void merge_page_diag(diagnostics& total, diagnostics&& page, bool failed) {
    const unsigned attempts = total.attempts + page.attempts;
    std::vector<std::string> ids = std::move(total.request_ids);
    for (auto& id : page.request_ids) ids.push_back(std::move(id));
    std::string last_id = page.request_id.empty() ? std::move(total.request_id) : std::move(page.request_id);
    if (failed) total = std::move(page);
    total.attempts = attempts;
    total.request_ids = std::move(ids);
    total.request_id = std::move(last_id);
}

/// The executor generic tokens run a paging operation on (fakes in tests
/// that are only awaited need none).
template <class Client>
boost::asio::any_io_executor executor_of(Client& c) {
    if constexpr (requires { c.get_executor(); })
        return c.get_executor();
    else
        return {};
}

/// Pages `base` (Limit forced to 100) from base.offset until the offset
/// reaches TotalCount, or a page is empty (a server whose TotalCount is larger
/// than what it returns), or a page brings nothing new (a server ignoring
/// Offset). Items are deduplicated by id (the set may shift between pages).
/// On failure: the first failing page's error, no items, every RequestId.
template <class Client, class Request>
boost::asio::awaitable<result<item_vector_t<Request>>> async_describe_all(Client& c, Request base, call_options opts) {
    result<item_vector_t<Request>> out;
    base.limit = max_describe_limit;
    std::unordered_set<std::string> seen;
    for (;;) {
        auto page = co_await c.async_invoke(base, opts, as_result);
        merge_page_diag(out.diag, std::move(page.diag), static_cast<bool>(page.ec));
        if (page.ec) {
            out.ec = page.ec;
            out.value.clear();
            co_return out;
        }
        auto& items = page_items(page.value);
        const std::size_t n = items.size();
        std::size_t fresh = 0;
        for (auto& it : items)
            if (seen.insert(item_id(it)).second) {
                out.value.push_back(std::move(it));
                ++fresh;
            }
        if (n == 0 || fresh == 0) break;
        base.offset += static_cast<std::int64_t>(n);
        if (static_cast<std::uint64_t>(base.offset) >= page.value.total_count) break;
    }
    co_return out;
}

/// async_describe_all as a function object of (request, options).
template <class Client, class Request>
struct describe_all_fn {
    Client* c;
    auto operator()(Request base, call_options opts) const {
        return async_describe_all(*c, std::move(base), std::move(opts));
    }
};

}  // namespace detail

/// Paging operations. Each sends the Describe* request `base` page after
/// page (Limit set to 100, from base.offset) through `c.async_invoke`, so
/// every page is one call, paced and retried by the client like any other,
/// and stops as detail::async_describe_all says. Items are deduplicated by id.
///   - Signature: void(cbs::error_code, std::vector<item>). On failure: the
///     first failing page's error, no items; the diagnostics hold every
///     page's RequestIds and attempts.
///   - Tokens: as cbs::client's operations (default use_awaitable, throwing
///     cbs::error; cbs::as_result; any Asio token, run with co_spawn on
///     c.get_executor()). A `diagnostics&` must outlive the operation.
///   - Lifetime: `c` must outlive the operation.
///   - Cancellation: per-operation, terminal; the page in flight is
///     cancelled (client_errc::cancelled) and no further page is asked for.
///   - Errors: those of the client's calls; a request that fails validation
///     (client_errc::invalid_request) sends nothing.
///   - Thread-safety: as the client's calls.
/// Every disk matching `base` (its DiskIds or Filters).
template <class Client, class CompletionToken = boost::asio::use_awaitable_t<>>
auto async_describe_all_disks(Client& c, describe_disks_request base, call_options opts, diagnostics& diag,
                              CompletionToken&& token = {}) {
    return detail::complete_with<detail::item_vector_t<decltype(base)>>(
        detail::executor_of(c), detail::describe_all_fn<Client, decltype(base)>{&c}, &diag,
        std::forward<CompletionToken>(token), std::move(base), std::move(opts));
}
template <class Client, class CompletionToken = boost::asio::use_awaitable_t<>>
auto async_describe_all_disks(Client& c, describe_disks_request base, call_options opts = {},
                              CompletionToken&& token = {}) {
    return detail::complete_with<detail::item_vector_t<decltype(base)>>(
        detail::executor_of(c), detail::describe_all_fn<Client, decltype(base)>{&c}, nullptr,
        std::forward<CompletionToken>(token), std::move(base), std::move(opts));
}
template <class Client, detail::token_for<void(error_code, std::vector<disk>)> CompletionToken>
auto async_describe_all_disks(Client& c, describe_disks_request base, CompletionToken&& token) {
    return async_describe_all_disks(c, std::move(base), call_options{}, std::forward<CompletionToken>(token));
}

/// Every snapshot group matching `base` (its Filters).
template <class Client, class CompletionToken = boost::asio::use_awaitable_t<>>
auto async_describe_all_snapshot_groups(Client& c, describe_snapshot_groups_request base, call_options opts,
                                        diagnostics& diag, CompletionToken&& token = {}) {
    return detail::complete_with<detail::item_vector_t<decltype(base)>>(
        detail::executor_of(c), detail::describe_all_fn<Client, decltype(base)>{&c}, &diag,
        std::forward<CompletionToken>(token), std::move(base), std::move(opts));
}
template <class Client, class CompletionToken = boost::asio::use_awaitable_t<>>
auto async_describe_all_snapshot_groups(Client& c, describe_snapshot_groups_request base, call_options opts = {},
                                        CompletionToken&& token = {}) {
    return detail::complete_with<detail::item_vector_t<decltype(base)>>(
        detail::executor_of(c), detail::describe_all_fn<Client, decltype(base)>{&c}, nullptr,
        std::forward<CompletionToken>(token), std::move(base), std::move(opts));
}
template <class Client, detail::token_for<void(error_code, std::vector<snapshot_group>)> CompletionToken>
auto async_describe_all_snapshot_groups(Client& c, describe_snapshot_groups_request base, CompletionToken&& token) {
    return async_describe_all_snapshot_groups(c, std::move(base), call_options{}, std::forward<CompletionToken>(token));
}

/// Every snapshot matching `base` (its SnapshotIds or Filters).
template <class Client, class CompletionToken = boost::asio::use_awaitable_t<>>
auto async_describe_all_snapshots(Client& c, describe_snapshots_request base, call_options opts, diagnostics& diag,
                                  CompletionToken&& token = {}) {
    return detail::complete_with<detail::item_vector_t<decltype(base)>>(
        detail::executor_of(c), detail::describe_all_fn<Client, decltype(base)>{&c}, &diag,
        std::forward<CompletionToken>(token), std::move(base), std::move(opts));
}
template <class Client, class CompletionToken = boost::asio::use_awaitable_t<>>
auto async_describe_all_snapshots(Client& c, describe_snapshots_request base, call_options opts = {},
                                  CompletionToken&& token = {}) {
    return detail::complete_with<detail::item_vector_t<decltype(base)>>(
        detail::executor_of(c), detail::describe_all_fn<Client, decltype(base)>{&c}, nullptr,
        std::forward<CompletionToken>(token), std::move(base), std::move(opts));
}
template <class Client, detail::token_for<void(error_code, std::vector<snapshot>)> CompletionToken>
auto async_describe_all_snapshots(Client& c, describe_snapshots_request base, CompletionToken&& token) {
    return async_describe_all_snapshots(c, std::move(base), call_options{}, std::forward<CompletionToken>(token));
}

}  // namespace cbs
