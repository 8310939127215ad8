// cbsctl report merge R1.json R2.json ... [--out FILE] [--json]: the reports
// of a run split with snapshot-fleet --shard I/N, combined (report_merge.cpp).
#include "fleet_output.hpp"
#include "report_merge.hpp"

#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <optional>

namespace cbsctl {

namespace {

struct merge_options {
    std::vector<std::string> files;
    std::string out;
    bool json = false;
};

int run_merge(const merge_options& o) {
    // --out is checked (and its temporary made) before anything is read.
    std::optional<report_file> out;
    if (!o.out.empty()) out.emplace(o.out, "--out");
    if (o.json && out && out->is_stdout())
        throw usage_error("report merge: --json and --out - both write to standard output; choose one");
    std::vector<shard_report_file> in;
    in.reserve(o.files.size());
    for (const auto& f : o.files) in.push_back({f, read_report_file(f)});
    auto m = merge_fleet_reports(in);
    const std::string text = json_text(m.report) + "\n";
    std::string where = out ? out->display() : "standard output";
    if (out) {
        if (auto err = out->commit(text); !err.empty()) {
            std::cerr << "cbsctl: report merge: " << err << "\n";
            where = "(not written: " + err + ")";
            if (m.exit_status == exit_ok) m.exit_status = exit_failed;
        }
    } else {
        std::cout << text << std::flush;
    }
    if (o.json && out) {  // the summary on stdout; the report is in the file
        boost::json::object s = m.report.at("summary").as_object();
        s["run_id"] = m.report.at("run_id");
        s["shard"] = m.report.at("shard");
        if (const auto* inc = m.report.if_contains("incomplete")) s["incomplete"] = *inc;
        s["report"] = where;
        s["exit_status"] = m.exit_status;
        std::cout << json_text(s) << "\n" << std::flush;
    } else if (!o.json) {
        print_merge_summary(std::cerr, m, where);
    }
    return m.exit_status;
}

}  // namespace

command_runner add_report_command(CLI::App& root) {
    auto o = std::make_shared<merge_options>();
    auto* cmd = root.add_subcommand("report", "work with snapshot-fleet reports: merge the reports of a split run");
    cmd->require_subcommand(1);
    auto* merge = cmd->add_subcommand(
        "merge", "combine the reports of the N shards of one run (snapshot-fleet --shard I/N) into one report");
    merge->add_option("reports", o->files, "the shards' JSON reports (snapshot-fleet --report)")
        ->required()
        ->type_name("REPORT.json ...");
    non_empty(merge
                  ->add_option("--out", o->out,
                               "write the merged report to FILE (whole or not at all: a temporary renamed over it; "
                               "- or no --out: standard output)")
                  ->type_name("FILE"),
              "--out needs a file name (or - for standard output)");
    merge->add_flag("--json", o->json,
                    "with --out: print one JSON object on stdout (summary, shard coverage, report, exit status) "
                    "instead of the summary on stderr; without: only the merged report on stdout");
    merge->footer(
        "Checks that the reports are of one run (same run id, same N), that no shard is given twice and no\n"
        "instance is in two reports; names the shards with no report (the merged report then says\n"
        "INCOMPLETE and never claims full coverage). Counters are summed, times are the longest.\n\n"
        "Exit status: 0 every shard there and every instance done; 1 shards missing, or instances failed,\n"
        "unknown, duplicated or never started, or a journal or sweep error (as snapshot-fleet); 2 bad input\n"
        "(an unreadable file, not JSON, not a fleet report, mixed runs, a shard twice, an instance in two\n"
        "reports); 130 a shard was interrupted.\n\n"
        "Example: cbsctl report merge nightly.shard-*.report.json --out nightly.report.json");
    return [o] { return run_merge(*o); };
}

}  // namespace cbsctl
