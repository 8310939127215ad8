// cbsctl snapshot-fleet: options, checks and the clients of each region;
// fleet_run.cpp runs them.
#include "fleet_run.hpp"

#include <CLI/CLI.hpp>

#include <cbs/fleet_names.hpp>
#include <cbs/journal.hpp>
#include <cbs/rate_limiter_core.hpp>
#include <cbs/retry_policy.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <utility>

namespace cbsctl {

namespace {

struct fleet_options {
    connection_options conn;
    cbs::fleet_params fp;
    std::string report_path, instances_file, rate_scope = "account";
    std::vector<std::string> instances, rates, regions, group_tags;
    std::optional<std::string> tag, journal, shard;
    std::optional<std::chrono::milliseconds> deadline, window, busy_wait;
    std::optional<long long> snapshot_quota;
    bool json = false, dry_run = false;
};

int run_snapshot_fleet(fleet_options& o);

void add_selection_options(CLI::App& cmd, fleet_options& o) {
    const std::string sel = "Instances";
    cmd.add_option("--instances", o.instances, "instance ids, separated by commas")
        ->delimiter(',')
        ->type_name("ID,...")
        ->group(sel);
    cmd.add_option("--instances-file", o.instances_file,
                   "one or more ids per line (commas or spaces); blank lines and # comments are ignored; - reads "
                   "standard input")
        ->type_name("FILE")
        ->group(sel);
    cmd.add_flag("--all", o.fp.all_instances, "every instance with attached disks (DescribeDisks)")->group(sel);
    cmd.add_option("--tag", o.tag, "with --all: only disks with this tag (DescribeDisks filter tag:KEY)")
        ->type_name("KEY=VALUE")
        ->group(sel);
    cmd.add_option("--regions", o.regions,
                   "snapshot these regions in one run (with --all), concurrently, one report with a section per "
                   "region; exclusive with --region")
        ->delimiter(',')
        ->type_name("R1,R2,...")
        ->group(sel);
    cmd.add_option("--shard", o.shard,
                   "snapshot only shard I (1-based) of N of the instances listed or found (a stable hash of "
                   "the instance id, FNV-1a 64 mod N): N hosts with the same options and --shard 1/N .. N/N cover "
                   "each instance exactly once; combine their reports with cbsctl report merge")
        ->type_name("I/N")
        ->group(sel);
    cmd.add_flag("--data-disks-only", o.fp.data_disks_only,
                 "leave system disks out of the groups (an instance with no data disk is skipped, with the reason)")
        ->group(sel);
}

}  // namespace

command_runner add_snapshot_fleet_command(CLI::App& root) {
    auto o = std::make_shared<fleet_options>();
    auto* cmd = root.add_subcommand("snapshot-fleet",
                                    "one snapshot group per instance, for a whole fleet, exactly once, with a report");
    add_selection_options(*cmd, *o);
    cmd->add_option("--name-prefix", o->fp.name_prefix,
                    "groups are named <prefix>-<instance-id>-<run-id>; prune and groups list match this pattern")
        ->capture_default_str();
    cmd->add_option("--run-id", o->fp.run_id,
                    "letters, digits, . _ - (default: UTC time and a random suffix, printed); the same id resumes");
    cmd->add_option("--group-tag", o->group_tags,
                    "tag every group with KEY=VALUE (repeatable; the tag cbs-fleet-run-id=<run-id> is always added)")
        ->type_name("KEY=VALUE");
    cmd->add_flag("--dry-run", o->dry_run,
                  "discover and plan only: instances, disks, disks left out and why, groups to create and the time "
                  "it takes at the configured rate; nothing is created, no journal or report is written");
    cmd->add_option("--snapshot-quota", o->snapshot_quota,
                    "the account's snapshot quota per region (the console shows it; the API has no call for it): "
                    "warn before the run when the snapshots held plus those planned exceed it")
        ->type_name("N")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--journal", o->journal,
                    "default $CBS_STATE_DIR/<run-id>.journal, else $XDG_STATE_HOME/cbs-async/..., else "
                    "~/.local/state/cbs-async/<run-id>.journal (<run-id>.shard-I-of-N.journal with --shard); locked "
                    "while the run lasts; with --regions, one journal per region: <journal>.<region>")
        ->type_name("FILE");
    non_empty(cmd->add_option("--report", o->report_path,
                              "default ./cbsctl-<run-id>.report.json (cbsctl-<run-id>.shard-I-of-N.report.json with "
                              "--shard), - for standard output; checked before any call, written whole or not at all")
                  ->type_name("FILE"),
              "--report needs a file name (or - for standard output)");
    cmd->add_flag(
        "--no-wait", [o](std::int64_t) { o->fp.wait = false; },
        "do not wait for the groups to be NORMAL (CREATING counts as done)");
    add_duration_option(*cmd, "--deadline", o->deadline,
                        "per instance, how long creates refused by busy disks are retried (default 10m)");
    add_duration_option(*cmd, "--consistency-window", o->window,
                        "after an unanswered create, how long its name is looked up before it is sent again; also the "
                        "wait before the final sweep (default 15s)");
    cmd->add_option("--max-resends", o->fp.max_resends, "sends of one create after the first, once the window passed")
        ->type_name("N")
        ->check(CLI::Range(0U, 100U))
        ->capture_default_str();
    add_duration_option(*cmd, "--busy-disk-wait", o->busy_wait,
                        "how long planning waits for migrating / rolling-back / attaching disks before leaving them "
                        "out, with the reason (default 60s; 0: do not wait)",
                        true);
    cmd->add_flag("--keep-duplicates", o->fp.keep_duplicates,
                  "the sweep reports extra groups (exit 1) instead of deleting them");
    cmd->add_flag("--allow-empty", o->fp.allow_empty, "an empty fleet is a success (default: exit 2)");
    cmd->add_option("--rate", o->rates,
                    std::string("requests per second for an action, ACTION=RATE, e.g. CreateSnapshotGroup=10 "
                                "(default: 0.95 x the documented rate, 19/s for the snapshot-group actions); RATE: ") +
                        rate_syntax)
        ->type_name("ACTION=RATE");
    cmd->add_option("--rate-scope", o->rate_scope,
                    "account: the rates hold for all regions together (the safe reading of the documented limits); "
                    "region: each region gets the full rate")
        ->check(CLI::IsMember({"account", "region"}))
        ->capture_default_str();
    cmd->add_flag("--json", o->json,
                  "print one JSON object on stdout (summary, run id, region(s), journal, report, exit status)");
    add_connection_options(*cmd, o->conn);
    cmd->footer(
        "One snapshot group per instance, named <prefix>-<instance>-<run-id>. A re-run with the same --run-id\n"
        "(from any directory, with or without its journal) looks every name up first and creates nothing\n"
        "twice; a final sweep deletes the extra groups an ambiguous create left. To split a fleet over N hosts,\n"
        "run the same command on each with --shard 1/N .. N/N (same --run-id) and one --limiter\n"
        "redis://HOST:PORT (the hosts then share the account's rate), then cbsctl report merge the N\n"
        "reports. Durations: " +
        std::string(duration_syntax) +
        ".\n\nExit status: 0 every instance done; 1 some failed, unknown, duplicated or never started, or the\n"
        "journal failed; 2 usage or configuration error (bad option, empty fleet, a journal of another\n"
        "prefix/region/endpoint/key, a run with this run id already in progress, an unwritable --report);\n"
        "130 interrupted (SIGINT/SIGTERM: the calls in flight finish, the report is written).\n\n"
        "Example: cbsctl snapshot-fleet --all --regions ap-guangzhou,ap-shanghai --name-prefix nightly");
    return [o] { return run_snapshot_fleet(*o); };
}

namespace {

/// Parses --shard I/N into fp (exit 2 naming what is wrong).
void parse_shard(const std::string& text, cbs::fleet_params& fp) {
    const auto slash = text.find('/');
    auto number = [&](std::string_view part, const char* what) -> std::size_t {
        if (part.empty() || part.size() > 9 || part.find_first_not_of("0123456789") != std::string_view::npos)
            throw usage_error("--shard '" + text + "': " + what + " is not a whole number (expected I/N, e.g. 2/5)");
        return static_cast<std::size_t>(std::stoul(std::string(part)));
    };
    if (slash == std::string::npos) throw usage_error("--shard '" + text + "': expected I/N, e.g. 2/5 (shard 2 of 5)");
    const std::string_view all(text);
    fp.shard_index = number(all.substr(0, slash), "the shard index I");
    fp.shard_count = number(all.substr(slash + 1), "the shard count N");
    if (auto why = cbs::fleet_shard_error(fp.shard_index, fp.shard_count); !why.empty())
        throw usage_error("--shard '" + text + "': " + why);
}

/// Reads --instances and --instances-file into fp.instance_ids and checks
/// the selection; true when instances were listed.
void select_instances(fleet_options& o) {
    auto& fp = o.fp;
    bool have_instances = !o.instances.empty();
    for (const auto& item : o.instances)
        for (auto& id : split_ids(item)) fp.instance_ids.push_back(std::move(id));
    const auto& file = o.instances_file;
    if (!file.empty()) {
        std::stringstream ss;
        if (file == "-") {
            ss << std::cin.rdbuf();
        } else {
            std::ifstream in(file);
            if (!in) throw usage_error("cannot read --instances-file '" + file + "': " + std::strerror(errno));
            ss << in.rdbuf();
        }
        for (auto& id : split_ids(ss.str())) fp.instance_ids.push_back(std::move(id));
        have_instances = true;
    }
    if (have_instances && fp.all_instances) throw usage_error("give --instances/--instances-file or --all, not both");
    if (!have_instances && !fp.all_instances)
        throw usage_error("snapshot-fleet needs --instances, --instances-file or --all");
    if (have_instances && fp.instance_ids.empty() && !fp.allow_empty)
        throw usage_error(file.empty() ? "the instance list is empty (--allow-empty to accept an empty fleet)"
                                       : "--instances-file '" + file +
                                             "' lists no instance (blank lines and # comments are ignored; "
                                             "--allow-empty to accept an empty fleet)");
    if (fp.tag_filter && !fp.all_instances) throw usage_error("--tag only applies with --all");
    std::set<std::string_view> seen;
    for (const auto& id : fp.instance_ids)
        if (!seen.insert(id).second) throw usage_error("instance '" + id + "' is listed twice");
}

/// The regions of the run: --regions, else --region.
std::vector<std::string> regions_of(const fleet_options& o, bool region_given) {
    if (o.regions.empty()) return {o.conn.region};
    if (region_given) throw usage_error("--region and --regions are exclusive");
    std::set<std::string> seen;
    for (const auto& r : o.regions) {
        if (r.empty()) throw usage_error("--regions: an empty region name");
        if (!seen.insert(r).second) throw usage_error("--regions lists '" + r + "' twice");
    }
    if (o.regions.size() > 1 && !o.fp.all_instances)
        throw usage_error("--regions with several regions needs --all (an instance id belongs to one region)");
    return o.regions;
}

int run_snapshot_fleet(fleet_options& o) {
    auto& fp = o.fp;
    if (o.tag) {
        auto [k, v] = parse_key_value(*o.tag, "--tag");
        fp.tag_filter = cbs::tag{k, v};
    }
    for (const auto& t : o.group_tags) {
        auto [k, v] = parse_key_value(t, "--group-tag");
        if (k == "cbs-fleet-run-id" || k == "cbs-fleet-shard")
            throw usage_error("--group-tag: the tag " + k + " is the run's own");
        fp.tags.push_back(cbs::tag{k, v});
    }
    if (o.shard) parse_shard(*o.shard, fp);
    if (o.journal && o.journal->empty()) throw usage_error("--journal needs a file name");
    if (o.deadline) fp.instance_deadline = *o.deadline;
    if (o.window) fp.consistency_window = *o.window;
    if (o.busy_wait) fp.busy_disk_wait = *o.busy_wait;
    std::map<std::string, double, std::less<>> rates;
    for (const auto& r : o.rates) {
        auto [action, text] = parse_key_value(r, "--rate");
        rates[action] = parse_rate(text, "--rate " + action);
    }
    select_instances(o);
    const auto regions = regions_of(o, o.conn.region_given);
    if (o.json && o.report_path == "-")
        throw usage_error("--json and --report - both write to standard output; choose one");
    if (o.dry_run && (o.journal || !o.report_path.empty()))
        throw usage_error("--dry-run writes no journal and no report: drop --journal / --report");
    const bool generated_id = fp.run_id.empty();
    if (generated_id && fp.shard_count > 1)
        throw usage_error(
            "--shard needs --run-id: every shard of a fleet runs with the same run id (a generated one "
            "would differ from host to host)");
    if (generated_id) fp.run_id = default_run_id();
    if (!cbs::is_run_id(fp.run_id))
        throw usage_error("--run-id '" + fp.run_id +
                          "': 1 to 64 letters, digits, '.', '_' or '-' (not starting with '.')");
    std::string journal_base;
    if (o.journal) {
        journal_base = *o.journal;
    } else if (!o.dry_run) {
        const auto dir = cbs::default_journal_dir();
        if (dir.empty())
            throw usage_error(
                "no state directory for the journal: set CBS_STATE_DIR (or HOME), or give --journal FILE");
        cbs::diagnostics diag;
        if (auto ec = cbs::make_directories(dir, diag)) throw usage_error("journal directory: " + diag.client_message);
        journal_base = cbs::default_journal_path(fp.run_id, fp.shard_index, fp.shard_count);
    }
    const std::string shard_part =
        fp.shard_count > 1 ? ".shard-" + std::to_string(fp.shard_index) + "-of-" + std::to_string(fp.shard_count)
                           : std::string();
    std::string report_path =
        o.report_path.empty() ? "cbsctl-" + fp.run_id + shard_part + ".report.json" : o.report_path;
    std::optional<report_file> report;
    if (!o.dry_run) report.emplace(report_path);  // checked (and its temporary created) before any call

    boost::asio::io_context io;
    const bool per_region = o.rate_scope == "region";
    std::shared_ptr<cbs::rate_limit_group> shared;
    std::vector<std::unique_ptr<cbs::client>> clients;
    std::vector<region_run> runs;
    try {
        // N shards sharing a Redis limit: each one's fallback share is 1/N.
        if (fp.shard_count > 1 && o.conn.limiter_processes == 0 && !o.conn.limiter.empty())
            o.conn.limiter_processes = fp.shard_count;
        for (const auto& region : regions) {
            auto params = make_client_params(o.conn, region);
            if (!per_region) {
                // One group for every region; a Redis limit goes with it,
                // keyed by the account (region part "all").
                auto sl = std::exchange(params.shared_limiter, {});
                if (!sl.url.empty() && sl.account.empty() && !params.credentials_provider)
                    sl.account = cbs::secret_id_fingerprint(params.creds.secret_id);
                if (!shared) shared = cbs::make_rate_limit_group(io.get_executor(), rates, sl);
            }
            params.thread_safe = false;  // one thread runs every region (a shared group needs it)
            if (o.conn.verbose)
                params.on_retry = [region, several = regions.size() > 1](std::string_view action, cbs::error_class cls,
                                                                         std::chrono::nanoseconds delay,
                                                                         unsigned attempt) {
                    std::cerr << "cbsctl: " << (several ? region + ": " : std::string()) << action << " attempt "
                              << attempt << " failed (" << cbs::to_string(cls) << "), retried in "
                              << std::chrono::duration_cast<std::chrono::milliseconds>(delay).count() << " ms\n";
                };
            if (shared)
                params.shared_limits = shared;
            else
                params.rate_overrides = rates;
            clients.push_back(std::make_unique<cbs::client>(io.get_executor(), std::move(params)));
            region_run r{region, clients.back().get(), fp};
            if (!journal_base.empty()) r.params.journal_path = journal_base;
            if (regions.size() > 1) r.params.journal_path.append(".").append(region);
            runs.push_back(std::move(r));
        }
    } catch (const cbs::error& e) {
        throw usage_error(e.diag().to_string(e.code()));
    }
    fleet_print print;
    print.json = o.json;
    print.verbose = o.conn.verbose;
    print.rate_per_region = per_region;
    auto create_rate = cbs::default_limiter_params("CreateSnapshotGroup").rate_per_second;
    if (auto it = rates.find("CreateSnapshotGroup"); it != rates.end()) create_rate = it->second;
    print.create_rate = create_rate;
    if (o.dry_run) return run_dry(io, runs, print, o.snapshot_quota);
    if (!o.json) {
        std::cerr << "cbsctl: run id " << fp.run_id
                  << (fp.shard_count > 1
                          ? ", shard " + std::to_string(fp.shard_index) + "/" + std::to_string(fp.shard_count)
                          : std::string())
                  << (generated_id ? " (re-run with --run-id " + fp.run_id + " to resume)" : "");
        for (const auto& r : runs) std::cerr << ", journal " << r.params.journal_path;
        std::cerr << "\n";
    }
    if (o.snapshot_quota) quota_preflight(io, runs, *o.snapshot_quota);
    return run_fleets(io, runs, *report, print);
}

}  // namespace

}  // namespace cbsctl
