// cbs-async: every page of a Describe* call, and batching of id filters.
//
//   // All the disks of a fleet, 100 instance ids per DescribeDisks filter:
//   for (auto& req : cbs::disks_by_instance_batches(instance_ids)) {
//       auto r = co_await cbs::async_describe_all_disks(c, std::move(req), std::nothrow);
//       if (!r) { /* r.ec, r.diag */ }
//       for (auto& d : r.value) ...
//   }
//
// The async helpers are templates on the client type so that any type with
// cbs::client's `async_invoke(req, std::nothrow, call_options)` works (a fake
// in tests); with cbs::client they are used as written above. They run on the
// caller's coroutine, one page at a time (each page is one call, paced and
// retried by the client like any other).
#pragma once

#include <cbs/client.hpp>
#include <cbs/describe_actions.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <new>
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
        auto page = co_await c.async_invoke(base, std::nothrow, opts);
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

template <class T>
T value_or_throw(result<T>&& r) {
    if (r.ec) throw error(r.ec, std::move(r.diag));
    return std::move(r.value);
}

}  // namespace detail

/// Every disk matching `base` (its DiskIds or Filters; Limit is set to 100,
/// paging starts at base.offset). See detail::async_describe_all for when it
/// stops. Validation errors (client_errc::invalid_request) send nothing.
template <class Client>
boost::asio::awaitable<result<std::vector<disk>>> async_describe_all_disks(Client& c, describe_disks_request base,
                                                                           std::nothrow_t, call_options opts = {}) {
    return detail::async_describe_all(c, std::move(base), opts);
}

/// Every snapshot group matching `base` (its Filters), as above.
template <class Client>
boost::asio::awaitable<result<std::vector<snapshot_group>>> async_describe_all_snapshot_groups(
    Client& c, describe_snapshot_groups_request base, std::nothrow_t, call_options opts = {}) {
    return detail::async_describe_all(c, std::move(base), opts);
}

/// Every snapshot matching `base` (its SnapshotIds or Filters), as above.
template <class Client>
boost::asio::awaitable<result<std::vector<snapshot>>> async_describe_all_snapshots(Client& c,
                                                                                   describe_snapshots_request base,
                                                                                   std::nothrow_t,
                                                                                   call_options opts = {}) {
    return detail::async_describe_all(c, std::move(base), opts);
}

/// Throwing forms: cbs::error (error_code + diagnostics) on failure.
template <class Client>
boost::asio::awaitable<std::vector<disk>> async_describe_all_disks(Client& c, describe_disks_request base,
                                                                   call_options opts = {}) {
    co_return detail::value_or_throw(co_await detail::async_describe_all(c, std::move(base), opts));
}

template <class Client>
boost::asio::awaitable<std::vector<snapshot_group>> async_describe_all_snapshot_groups(
    Client& c, describe_snapshot_groups_request base, call_options opts = {}) {
    co_return detail::value_or_throw(co_await detail::async_describe_all(c, std::move(base), opts));
}

template <class Client>
boost::asio::awaitable<std::vector<snapshot>> async_describe_all_snapshots(Client& c, describe_snapshots_request base,
                                                                           call_options opts = {}) {
    co_return detail::value_or_throw(co_await detail::async_describe_all(c, std::move(base), opts));
}

}  // namespace cbs
