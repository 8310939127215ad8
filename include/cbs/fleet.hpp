// cbs-async: snapshot a whole fleet, one snapshot group per instance.
//
//   cbs::fleet_params fp;
//   fp.instance_ids = {...};
//   fp.run_id = "20261129";
//   auto report = co_await cbs::async_snapshot_fleet(client, fp);
//
// What it does, in order (DESIGN.md "Fleet snapshotting"):
//  1. discover: DescribeDisks filtered by instance-id, 100 ids per call,
//     paginated; disks that cannot be snapshotted are left out and reported;
//  2. plan: one group per instance named <prefix>-<instance-id>-<run-id>;
//  3. create: all instances concurrently (a fixed pool of workers, so memory
//     does not grow with the fleet), paced by the client's limiters and
//     retried by its retry policy; after an "outcome unknown" the group is
//     looked up by name and created again only if it does not exist;
//  4. wait: DescribeSnapshotGroups by batches of 100 ids until NORMAL;
//  5. report: one record per instance and a summary.
// With a journal, a run killed at any point and started again with the same
// run id creates nothing twice: every planned name is looked up first.
//
// Threading: runs on a strand of the awaiting coroutine's executor; the
// progress callback is called on it (must not block).
//
// Cancellation (Asio per-operation, terminal; what cbsctl does on Ctrl-C):
// no new instance is started; calls in flight are cancelled; an instance
// whose create was not sent stays `pending`, one whose create was sent and
// not answered is `unknown` (journaled, so a re-run looks it up by name);
// the report of what happened is returned normally. A run killed outright
// resumes the same way from its journal.
#pragma once

#include <cbs/actions.hpp>
#include <cbs/client.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace cbs {

struct fleet_params {
    /// The instances to snapshot ("ins-xxxxxxxx"). Empty with all_instances:
    /// every instance that has an attached disk in the region.
    std::vector<std::string> instance_ids{};
    /// Snapshot every instance with attached disks (ignored if instance_ids
    /// is not empty). Default false.
    bool all_instances = false;
    /// With all_instances: only disks with this tag (DescribeDisks filter
    /// tag:KEY). Default none.
    std::optional<tag> tag_filter{};
    /// Group names are <name_prefix>-<instance-id>-<run_id>. Default "fleet".
    std::string name_prefix = "fleet";
    /// Identifies the run; required. The same run id with the same journal resumes.
    std::string run_id{};
    /// Leave system disks out. Default false (all snapshotable disks).
    bool data_disks_only = false;
    /// Wait until every created group is NORMAL. Default true.
    bool wait = true;
    /// Per instance: how long a create may keep retrying busy disks. Default 10 min.
    std::chrono::milliseconds instance_deadline{std::chrono::minutes(10)};
    /// How long to wait for the groups to become NORMAL. Default 1 h.
    std::chrono::milliseconds wait_timeout{std::chrono::hours(1)};
    /// Polling interval of DescribeSnapshotGroups while waiting. Default 2 s.
    std::chrono::milliseconds poll_interval{2000};
    /// Creates in flight at once (workers). Default 64: far more than the
    /// 20/s limit needs, so workers waiting on busy disks do not stall the rest.
    std::size_t concurrency = 64;
    /// Append-only journal file; empty: none. Default empty.
    std::string journal_path{};
    /// Tags added to every group (plus cbs-fleet-run-id=<run_id>).
    std::vector<tag> tags{};
};

/// What became of one instance.
enum class instance_outcome {
    pending,   ///< not reached (the run was cancelled)
    skipped,   ///< nothing to snapshot (no snapshotable disk)
    created,   ///< group created (or found) but not seen NORMAL (no wait, or wait timed out)
    normal,    ///< group NORMAL
    failed,    ///< a clear error (see error_code / error_message)
    unknown,   ///< a create was sent, its answer lost, and the group not found afterwards
};
std::string_view to_string(instance_outcome o) noexcept;

struct skipped_disk {
    std::string disk_id;
    std::string reason;
};

struct instance_report {
    std::string instance_id;
    std::vector<std::string> disk_ids;          ///< disks in the group
    std::vector<skipped_disk> skipped_disks;    ///< disks left out, and why
    std::string group_name;
    std::string group_id;
    std::string group_state;                    ///< last seen: CREATING / NORMAL
    instance_outcome outcome = instance_outcome::pending;
    bool adopted = false;                       ///< found by name, not created by this call
    unsigned attempts = 0;                      ///< CreateSnapshotGroup attempts
    std::string error_code;                     ///< service or client code, if failed/unknown
    std::string error_message;
    std::vector<std::string> request_ids;       ///< RequestIds of the create attempts
    double created_s = -1;                      ///< seconds from run start to created (-1: never)
    double normal_s = -1;                       ///< seconds from run start to NORMAL
};

struct fleet_summary {
    std::size_t instances = 0, normal = 0, created = 0, skipped = 0, failed = 0, unknown = 0, pending = 0;
    std::size_t adopted = 0;
    double discover_s = 0, create_s = 0, total_s = 0;
};

struct fleet_report {
    std::string run_id;
    std::vector<instance_report> instances;
    fleet_summary summary;
    /// True when every instance is NORMAL, or created when not waiting (skipped ones count as fine).
    bool all_ok = false;
};

/// Progress, for a display or metrics.
struct fleet_event {
    enum kind { discovered, planned, created, adopted, retrying, normal, failed, unknown, skipped } what;
    std::string_view instance_id;  ///< empty for run-wide events
    std::string_view detail;       ///< e.g. the retried code, the group id
};

using fleet_progress = std::function<void(const fleet_event&)>;

/// Runs the whole fleet. Fails as a whole (cbs::error) only for a bad
/// parameter (no run id, duplicate or malformed ids, unreadable journal) or a
/// discovery that cannot complete; per-instance failures are in the report.
boost::asio::awaitable<fleet_report> async_snapshot_fleet(client& c, fleet_params params,
                                                          fleet_progress progress = {});

/// The report as JSON (what `cbsctl snapshot-fleet --report` writes).
boost::json::object to_json(const fleet_report& report);

/// The group name of an instance in a run: <prefix>-<instance-id>-<run-id>.
std::string fleet_group_name(const fleet_params& params, std::string_view instance_id);

}  // namespace cbs
