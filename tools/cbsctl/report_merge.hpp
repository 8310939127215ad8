// cbsctl report merge: the reports of the N shards of one snapshot-fleet run
// (--shard I/N) combined into one report, with the shards that are missing
// named and the exit status snapshot-fleet would have given the whole run.
#pragma once

#include "cli.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <iosfwd>
#include <string>
#include <vector>

namespace cbsctl {

/// One shard's report as read: the file it came from and its JSON.
struct shard_report_file {
    std::string file;
    boost::json::value doc;
};

/// What the merge came to.
struct merged_reports {
    /// The merged report: run_id, shard {count, present, missing, complete,
    /// instances_listed, instances_covered}, merged_from, summary (counters
    /// summed, times the longest, all_ok over the whole run), instances,
    /// exit_status, and an `incomplete` message when shards are missing.
    boost::json::object report;
    std::vector<std::size_t> present, missing;  ///< shard indexes, ascending
    int exit_status = exit_ok;
};

/// Reads and parses one report file. Throws usage_error naming the file when
/// it cannot be read or is not JSON.
boost::json::value read_report_file(const std::string& path);

/// Merges the reports of one run's shards. Throws usage_error (exit 2) naming
/// the file(s) and what is wrong: not a fleet report (or one of several
/// regions), another run id or shard count than the first file's, a shard
/// index twice, an instance in two reports or in a report of the wrong shard.
/// Missing shards are not an error: the merge says so and its exit status is
/// 1 (as for an incomplete run), or 130 if a shard was interrupted.
merged_reports merge_fleet_reports(const std::vector<shard_report_file>& in);

/// The merge in words (stderr): coverage, counts, missing shards, the
/// instances that need attention, where the merged report went.
void print_merge_summary(std::ostream& os, const merged_reports& m, const std::string& where);

}  // namespace cbsctl
