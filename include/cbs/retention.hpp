// cbs-async: retention of snapshot groups (what `cbsctl prune` deletes), as a
// pure function: the groups listed and the options in, a plan out. No I/O and
// no clock (`now` is given), so every rule is unit-tested by hand
// (test/unit/test_retention.cpp); the command only lists, deletes and reports.
//
// Rules, in the order they are applied to each listed group:
//   R1  name not of snapshot-fleet's pattern <prefix>-<instance-id>-<run-id>
//                                          -> kept, not_fleet_name (never touched:
//                                             DescribeSnapshotGroups has no tag
//                                             filter, the name is all we know)
//   R2  fleet name of another prefix (with options.prefix)   -> kept, other_prefix
//   R3  instance not among options.instances (when given)    -> kept, other_instance
//   R4  state not NORMAL (CREATING, ROLLBACKING, ...)        -> kept, not_normal
//       (a group being created may still fail; one being rolled back is in use)
//   R5  CreateTime unreadable                                -> kept, unknown_age
//   Then per series (prefix, instance), NORMAL groups newest first (CreateTime,
//   ties broken by the larger id: the reverse of the fleet sweep's "oldest is
//   the smaller CreateTime, then the smaller id", so both agree):
//   R6  among the newest keep_last                           -> kept, newest_n
//   R7  not older than older_than (age <= older_than)        -> kept, younger
//   R8  the newest NORMAL group, unless allow_delete_newest  -> kept, newest_protected
//   R9  otherwise                                            -> deleted: beyond_keep_last
//       (only keep_last given), older_than (only older_than), or both (both given:
//       a group goes only when it is outside the newest N AND older than the age)
//
// Series are (prefix, instance), not the instance alone: without --name-prefix
// a "weekly-..." series must not be pruned away because "nightly-..." groups
// of the same instance are newer. With a prefix given the two are the same.
#pragma once

#include <cbs/error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cbs {

/// One listed group, as much as retention needs.
struct retention_group {
    std::string id;                       ///< SnapshotGroupId
    std::string name;                     ///< SnapshotGroupName
    std::string state;                    ///< SnapshotGroupState: NORMAL | CREATING | ROLLBACKING
    std::string create_time;              ///< CreateTime as sent (for reports)
    std::optional<std::int64_t> created;  ///< CreateTime as unix seconds (parse_create_time); nullopt: unreadable
};

struct retention_options {
    std::optional<std::size_t> keep_last;            ///< keep the newest N NORMAL groups of each series
    std::optional<std::chrono::seconds> older_than;  ///< delete only groups older than this
    std::string prefix;                              ///< "" : every fleet-pattern name
    std::vector<std::string> instances;              ///< empty: every instance
    std::int64_t now = 0;                            ///< unix seconds
    bool allow_delete_newest = false;                ///< R8 off (and keep_last 0 allowed)
};

enum class retention_reason {
    // kept
    not_fleet_name,
    other_prefix,
    other_instance,
    not_normal,
    unknown_age,
    newest_n,
    younger,
    newest_protected,
    // deleted
    beyond_keep_last,
    older_than,
    beyond_keep_last_and_older,
};

/// "not_fleet_name", "newest_n", ... (report and JSON text).
std::string_view to_string(retention_reason r) noexcept;
/// True for the three deletion reasons.
bool is_deletion(retention_reason r) noexcept;

/// What happens to one group, and why.
struct retention_decision {
    retention_group group;
    std::string prefix, instance_id;  ///< from the name ("" for R1)
    retention_reason reason{};
    std::int64_t age_seconds = 0;  ///< now - created (0 when unknown)
    bool remove() const noexcept { return is_deletion(reason); }
};

/// One series: the groups of one instance under one prefix.
struct retention_series {
    std::string prefix, instance_id;
    std::vector<retention_decision> kept;     ///< newest first
    std::vector<retention_decision> deleted;  ///< newest first
};

struct retention_plan {
    std::vector<retention_series> series;            ///< ordered by instance id, then prefix
    std::vector<retention_decision> untouched;       ///< R1-R3, ordered by group id
    std::map<retention_reason, std::size_t> counts;  ///< every listed group counted once
    std::size_t listed = 0, to_delete = 0, kept = 0;

    /// Every deletion, ordered by instance, prefix, then oldest first (the
    /// order `cbsctl prune` deletes in).
    std::vector<retention_decision> deletions() const;
};

/// Checks the options: at least one of keep_last / older_than;
/// keep_last 0 only with allow_delete_newest (it would delete every group);
/// older_than positive; a malformed instance id. client_errc::invalid_request
/// with the option named (--keep-last, --older-than, --instance).
error_code validate(const retention_options& o, diagnostics& diag);

/// The plan. Deterministic: the same groups (in any order) and options give
/// the same plan. Groups listed twice (paging overlap) are counted once.
retention_plan plan_retention(std::vector<retention_group> groups, const retention_options& o);

/// CreateTime as the service sends it: "YYYY-MM-DD hh:mm:ss" in Beijing time
/// (UTC+8, what the console shows), or ISO 8601 with a zone
/// ("YYYY-MM-DDThh:mm:ssZ", "...+08:00"). nullopt: anything else.
std::optional<std::int64_t> parse_create_time(std::string_view text) noexcept;

}  // namespace cbs
