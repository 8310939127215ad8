// cbs-async: snapshot a whole fleet, one snapshot group per instance.
//
//   cbs::fleet_params fp;
//   fp.instance_ids = {...};
//   fp.run_id = "20261129";
//   auto report = co_await cbs::async_snapshot_fleet(client, fp);
//
// The promise: every instance covered, none twice, and a report that tells
// the truth, with listing lag, lost answers, resumed and concurrent runs.
// In order (docs/fleet.md tells the whole story; the decision table is in
// include/cbs/detail/fleet_core.hpp):
//  1. discover: DescribeDisks filtered by instance-id, 100 ids per call,
//     paginated; disks that cannot be snapshotted are left out and reported;
//     migrating / rolling-back / attaching disks are waited for up to
//     busy_disk_wait, then left out with the reason;
//  2. plan: one group per instance named <prefix>-<instance-id>-<run-id>;
//  3. look up every planned name (100 names per call), journal or not: what
//     an earlier or concurrent run with this run id created is adopted;
//  4. create: a bounded pool of workers paced by the client's limiters; each
//     send is journaled ("intent", durable) first. After an unknown outcome
//     the exact name is looked up over consistency_window (growing gaps) and
//     sent again only if it never appeared, at most max_resends times;
//  5. wait: DescribeSnapshotGroups by batches of 100 ids until NORMAL;
//  6. sweep: once the window (or the longest listing lag seen) has passed
//     since the last create, every planned name is listed again; an instance
//     with more than one group keeps the oldest, the others are deleted
//     (journaled, reported) unless keep_duplicates;
//  7. report: one record per instance and a summary.
//
// Threading: runs on a strand of the awaiting coroutine's executor; the
// progress callback is called on it (must not block).
//
// Cancellation (Asio per-operation, terminal; what cbsctl does on Ctrl-C):
// no new create is sent; calls in flight are cancelled; an instance whose
// create was not sent stays `pending`, one whose create was sent and not
// confirmed is `unknown` (journaled, and a re-run looks every name up first);
// the report is returned normally with interrupted = true.
#pragma once

// The parameters, report and progress types (no Asio), shared with the
// sans-io fleet core in cbs::core.
#include <cbs/fleet_types.hpp>

#include <cbs/client.hpp>
#include <cbs/detail/async_ops.hpp>
#include <cbs/result.hpp>

#include <boost/asio/awaitable.hpp>

namespace cbs {

namespace detail {
/// The whole run as a result (compiled once, in cbs_fleet).
boost::asio::awaitable<result<fleet_report>> snapshot_fleet_result(client& c, fleet_params params,
                                                                   fleet_progress progress);
struct snapshot_fleet_fn {
    client* c;
    auto operator()(fleet_params params, fleet_progress progress) const {
        return snapshot_fleet_result(*c, std::move(params), std::move(progress));
    }
};
}  // namespace detail

/// Runs the whole fleet.
///   - Signature: void(cbs::error_code, cbs::fleet_report). Fails as a whole
///     only before anything is created: a bad parameter (no run id,
///     duplicate ids, an empty fleet without allow_empty: invalid_request
///     naming it), a journal that
///     cannot be opened or belongs to another run (invalid_config naming the
///     field) or is locked by a running run (run_in_progress), or a discovery
///     / first lookup that cannot complete. Everything later (per-instance
///     failures, a journal that fails midway, cancellation) is in the report,
///     with a success code.
///   - Tokens: as cbs::client's operations: the default (use_awaitable)
///     throws cbs::error; cbs::as_result; any Asio token (run with co_spawn
///     on c.get_executor()). The `diagnostics&` overload fills the details
///     of a failure as a whole.
///   - Lifetime: `c` must outlive the run; params and progress are moved in.
///   - Executor: the run is a coroutine on the awaiting coroutine's executor
///     (c.get_executor() for other tokens); `progress` is called there.
///   - Cancellation: per-operation, terminal: see the file comment.
///   - Thread-safety: one run per client at a time is the intended use;
///     several are safe with a thread-safe client.
/// detail/fleet_driver.hpp has the form generic over the client (tests drive
/// it with a scripted one).
template <class CompletionToken = boost::asio::use_awaitable_t<>>
auto async_snapshot_fleet(client& c, fleet_params params, fleet_progress progress, diagnostics& diag,
                          CompletionToken&& token = {}) {
    return detail::complete_with<fleet_report>(c.get_executor(), detail::snapshot_fleet_fn{&c}, &diag,
                                               std::forward<CompletionToken>(token), std::move(params),
                                               std::move(progress));
}
template <class CompletionToken = boost::asio::use_awaitable_t<>>
auto async_snapshot_fleet(client& c, fleet_params params, fleet_progress progress = {}, CompletionToken&& token = {}) {
    return detail::complete_with<fleet_report>(c.get_executor(), detail::snapshot_fleet_fn{&c}, nullptr,
                                               std::forward<CompletionToken>(token), std::move(params),
                                               std::move(progress));
}

}  // namespace cbs
