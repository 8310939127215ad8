// cbsctl snapshot-fleet / demo: runs the fleet of one or several regions at
// once (each with its own client, journal and report section), handles
// Ctrl-C, writes the report and prints the summary.
#pragma once

#include "fleet_output.hpp"

#include <cbs/client.hpp>
#include <cbs/fleet.hpp>

#include <boost/asio/io_context.hpp>

#include <functional>
#include <string>
#include <vector>

namespace cbsctl {

/// One region's part of a run.
struct region_run {
    std::string region;
    cbs::client* client = nullptr;
    cbs::fleet_params params;
};

/// How the run prints.
struct fleet_print {
    bool json = false;     ///< one JSON object on stdout, nothing else there
    bool verbose = false;  ///< every retry, lookup and reconciliation on stderr
    /// Requests per second CreateSnapshotGroup is paced at, over all regions
    /// together (the dry run's time estimate).
    double create_rate = 19;
    bool rate_per_region = false;  ///< create_rate holds per region (--rate-scope region)
};

/// Runs every region's fleet concurrently on `io`, then writes the report
/// (one region: the fleet report itself; several: {"run_id", "regions":
/// {region: report}, "summary"}) and prints the summary. `after` runs once
/// every region ended. Returns the exit status (the worst of the regions).
int run_fleets(boost::asio::io_context& io, std::vector<region_run>& runs, report_file& report,
               const fleet_print& print, const std::function<void()>& after = {});

/// A dry run: the plans of every region (plan_only), printed as text on
/// stderr or as JSON on stdout. Exit 0, or 1 when discovery failed.
int run_dry(boost::asio::io_context& io, std::vector<region_run>& runs, const fleet_print& print,
            std::optional<long long> snapshot_quota);

/// The quota pre-flight before a run: plans every region (plan_only),
/// counts the snapshots each region holds (DescribeSnapshots TotalCount) and
/// warns on stderr when held + planned exceeds `quota`. Failures to count
/// are warnings too: the run goes on either way.
void quota_preflight(boost::asio::io_context& io, std::vector<region_run>& runs, long long quota);

/// True for the codes that mean bad usage or configuration (exit 2).
bool usage_code(const cbs::error_code& ec);

}  // namespace cbsctl
