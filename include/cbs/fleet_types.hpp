// cbs-async: the types of a snapshot fleet run: its parameters, its report
// and its progress events (see fleet.hpp for the run itself). Plain data and
// pure functions, no Asio: the sans-io fleet core (cbs::core) uses them too.
#pragma once

#include <cbs/actions.hpp>

#include <boost/json/object.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cbs {

class journal_sink;

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
    /// Identifies the run; required. Every run with a run id looks up the
    /// names it plans before creating anything, so the same run id resumes.
    std::string run_id{};
    /// Leave system disks out. Default false (all snapshotable disks).
    bool data_disks_only = false;
    /// Wait until every created group is NORMAL. Default true.
    bool wait = true;
    /// Per instance: how long creates may keep being refused because a
    /// snapshot is being created on a disk (InvalidDisk.SnapshotCreating and
    /// other busy answers) before the instance fails. Default 10 min.
    std::chrono::milliseconds instance_deadline{std::chrono::minutes(10)};
    /// How long to wait for the groups to become NORMAL, and for the sweep to
    /// see a duplicate leave CREATING so it can be deleted. Default 1 h.
    std::chrono::milliseconds wait_timeout{std::chrono::hours(1)};
    /// Polling interval of DescribeSnapshotGroups while waiting. Default 2 s.
    std::chrono::milliseconds poll_interval{2000};
    /// Creates in flight at once (workers). Default 64: far more than the
    /// 20/s limit needs, so workers waiting on busy disks do not stall the rest.
    std::size_t concurrency = 64;
    /// After a create whose outcome is unknown (or a journaled intent with no
    /// result), how long the exact name is looked up (gaps of window/16,
    /// doubling) before the create may be sent again; also how long after
    /// the last create the final sweep waits (longer if a longer listing lag
    /// was seen). Default 15 s.
    std::chrono::milliseconds consistency_window{15000};
    /// Sends of one instance's create after the first, each once the window
    /// passed without the name appearing; then the instance is `unknown`.
    /// Default 2.
    unsigned max_resends = 2;
    /// The sweep only reports duplicate groups (the instance is `failed`)
    /// instead of deleting the newer ones. Default false.
    bool keep_duplicates = false;
    /// An empty fleet (no instance given or found) is a report with nothing
    /// in it instead of an error. Default false.
    bool allow_empty = false;
    /// How long planning waits for disks that are migrating, rolling back or
    /// attaching (DescribeDisks polled every poll_interval) before leaving
    /// them out of the group (the reason is reported; an instance with no
    /// disk left fails); also the deadline of one create's busy retries.
    /// Default 60 s.
    std::chrono::milliseconds busy_disk_wait{60000};
    /// How long a create waits for its journaled intent to be durable; past
    /// it the journal counts as failed (no create is sent blind). Default 30 s.
    std::chrono::milliseconds journal_timeout{30000};
    /// The journal (tests inject one). Default null: journal_path opens a
    /// file journal, or there is none.
    std::shared_ptr<journal_sink> journal{};
    /// Append-only journal file, locked for the run; empty: none. Ignored
    /// when `journal` is set. Default empty.
    std::string journal_path{};
    /// Tags added to every group (plus cbs-fleet-run-id=<run_id>, and
    /// cbs-fleet-shard=<index>/<count> when shard_count > 1).
    std::vector<tag> tags{};
    /// A dry run: discover, plan (busy disks are not waited for) and look up
    /// every planned name, then stop. Nothing is created or deleted and no
    /// journal is opened; instances still to create are reported `pending`,
    /// those whose group already exists `created` or `normal` (adopted).
    /// Default false.
    bool plan_only = false;
    /// This run's shard of the fleet, 1-based (1 <= shard_index <=
    /// shard_count). Only the instances whose fleet_shard_of(id, shard_count)
    /// is shard_index are planned, looked up, created, adopted, swept and
    /// reported; the others of the list (given or discovered) are counted
    /// (fleet_report::listed_instances) and left alone. N runs with one run
    /// id and shards 1/N .. N/N cover every instance exactly once between
    /// them. Default 1.
    std::size_t shard_index = 1;
    /// How many shards the fleet is split into (at least 1). Default 1: one
    /// run covers every instance.
    std::size_t shard_count = 1;
};

/// What became of one instance.
enum class instance_outcome {
    pending,  ///< never started (the run was interrupted or stopped creating)
    skipped,  ///< nothing to snapshot (no snapshotable disk)
    created,  ///< group created (or found) but not seen NORMAL (no wait, or wait timed out)
    normal,   ///< group NORMAL
    failed,   ///< a clear error (see error_name / error_message), or left with two groups
    unknown,  ///< a create was sent, its answer lost, and the group not found afterwards
};
std::string_view to_string(instance_outcome o) noexcept;

struct skipped_disk {
    std::string disk_id;
    std::string reason;
};

struct instance_report {
    std::string instance_id;
    std::vector<std::string> disk_ids;        ///< disks in the group
    std::vector<skipped_disk> skipped_disks;  ///< disks left out, and why
    std::string group_name;
    std::string group_id;
    std::string group_state;  ///< last seen: CREATING / NORMAL
    instance_outcome outcome = instance_outcome::pending;
    bool adopted = false;                          ///< found by name, not created by an answered create
    unsigned attempts = 0;                         ///< CreateSnapshotGroup HTTP attempts
    unsigned sends = 0;                            ///< CreateSnapshotGroup calls (journaled intents included)
    std::string error_name;                        ///< service code or client error name, if failed/unknown
    std::string error_message;                     ///< what went wrong, or a note (duplicates deleted)
    std::vector<std::string> request_ids;          ///< RequestIds of the create attempts
    std::vector<std::string> duplicate_group_ids;  ///< groups found beside group_id under its name
    std::vector<std::string> deleted_group_ids;    ///< of those, the ones the sweep deleted
    double created_s = -1;                         ///< seconds from run start to created (-1: never)
    double normal_s = -1;                          ///< seconds from run start to NORMAL
};

struct fleet_summary {
    std::size_t instances = 0, normal = 0, created = 0, skipped = 0, failed = 0, unknown = 0, pending = 0;
    std::size_t adopted = 0;
    std::size_t duplicates_found = 0;    ///< extra groups found by the sweep (or the first lookup)
    std::size_t duplicates_deleted = 0;  ///< of those, deleted
    std::size_t creates_sent = 0;        ///< CreateSnapshotGroup calls of this run
    double discover_s = 0, create_s = 0, total_s = 0;
};

struct fleet_report {
    std::string run_id;
    /// The run's shard (fleet_params::shard_index / shard_count): 1/1 when
    /// the fleet is not split.
    std::size_t shard_index = 1, shard_count = 1;
    /// Instances of the whole list, every shard's included (given, or found
    /// by discovery); `instances` holds this shard's (summary.instances).
    std::size_t listed_instances = 0;
    std::vector<instance_report> instances;
    fleet_summary summary;
    /// True when every instance is NORMAL, or created when not waiting
    /// (skipped ones count as fine), none is left with two groups, the run
    /// was not interrupted and the journal did not fail.
    bool all_ok = false;
    /// The run was cancelled (Ctrl-C): what was pending is counted as such.
    bool interrupted = false;
    /// Non-empty: the journal failed (this message), so the run stopped
    /// sending creates; those in flight were finished and reported.
    std::string journal_error;
    /// Non-empty: the final sweep could not list the run's groups (this
    /// message), so duplicates may remain unseen.
    std::string sweep_error;
};

/// The hash that splits a fleet into shards: FNV-1a 64 over the bytes of
/// `id` (offset basis 14695981039346656037, prime 1099511628211, xor then
/// multiply, modulo 2^64). Fixed by that definition: the same value on every
/// platform and in every version of this library (never std::hash), so hosts
/// running different builds split a fleet alike.
std::uint64_t fleet_shard_hash(std::string_view id) noexcept;

/// The 1-based shard of an instance among `shard_count` (>= 1):
/// fleet_shard_hash(id) % shard_count + 1. Every id falls in exactly one.
std::size_t fleet_shard_of(std::string_view id, std::size_t shard_count) noexcept;

/// What is wrong with a shard setting ("" if nothing): shard_count 0, or
/// shard_index outside 1..shard_count. The message names the values.
std::string fleet_shard_error(std::size_t shard_index, std::size_t shard_count);

/// Progress, for a display or metrics.
struct fleet_event {
    enum kind {
        discovered,
        planned,
        created,
        adopted,
        retrying,  ///< a create is retried (detail: the class or code), or busy disks are waited for
        normal,
        failed,
        unknown,
        skipped,
        looking_up,  ///< an unknown outcome: the name is being looked up (detail: the group name)
        duplicate,   ///< the sweep found an extra group (detail: its id)
        deleted,     ///< the sweep deleted an extra group (detail: its id)
    } what;
    std::string_view instance_id;  ///< empty for run-wide events
    std::string_view detail;       ///< e.g. the retried code, the group id
};

using fleet_progress = std::function<void(const fleet_event&)>;

/// The report as JSON (what `cbsctl snapshot-fleet --report` writes).
boost::json::object to_json(const fleet_report& report);

/// The group name of an instance in a run: <prefix>-<instance-id>-<run-id>.
std::string fleet_group_name(const fleet_params& params, std::string_view instance_id);

}  // namespace cbs
