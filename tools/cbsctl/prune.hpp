// cbsctl prune: what a run did, and how it is printed and reported. The
// decisions are cbs::plan_retention's (retention.hpp); prune_cmd.cpp lists,
// deletes and journals; prune_output.cpp prints the plan and builds the report.
#pragma once

#include "cli.hpp"

#include <cbs/retention.hpp>

#include <boost/json/object.hpp>

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace cbsctl {

/// One deletion of the run, planned or done.
struct prune_deletion {
    cbs::retention_decision decision;  ///< the group, its instance and why it goes
    /// planned (no --yes) | deleted | already_gone (InvalidSnapshotId.NotFound:
    /// an earlier lost answer, or someone else) | deleted_earlier (this run id's
    /// journal records it deleted by an earlier invocation) | failed |
    /// not_started (interrupted, or the journal failed, before it was sent)
    std::string outcome = "planned";
    std::string request_id, error_code, error_message;
};

/// Everything the report and the summaries are made of.
struct prune_result {
    std::string run_id, region, endpoint, journal, report;  ///< journal "" without --yes
    boost::json::object options;                            ///< the options as given (integers, strings)
    cbs::retention_plan plan;
    std::vector<prune_deletion> deletions;  ///< this invocation's plan, then the earlier ones from the journal
    bool executed = false;                  ///< --yes
    bool interrupted = false;
    std::string journal_error;  ///< "" : healthy

    std::size_t count(std::string_view outcome) const;
};

/// The deletions of the plan on `os` as a table (columns), text (tab
/// separated, one line each) or JSON (one array); `now` gives the ages.
void print_plan(std::ostream& os, const prune_result& r, output_format format);

/// One line of counts ("listed 40 groups: 30 of fleet names in 10 series; 20
/// to delete, 20 kept (newest_n 10, ...)").
std::string plan_counts_line(const prune_result& r);

/// The report: run id, region, options, counts, every deletion with its
/// outcome and RequestId, kept counts by reason, failures. Integers only.
boost::json::object prune_report(const prune_result& r);

/// The one object of --json: run id, report, journal, region, counts.
boost::json::object prune_summary(const prune_result& r, int exit_status);

/// "3d4h", "12m", "40s": the two largest units of an age, for tables.
std::string compact_age(std::int64_t seconds);

}  // namespace cbsctl
