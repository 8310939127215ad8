// cbsctl prune: retention of snapshot-fleet's groups. Lists every group,
// plans with cbs::plan_retention (the rules are in retention.hpp), prints the
// plan, and deletes only with --yes: one DeleteSnapshotGroup per group, paced
// by the client's limiter (0.95 x the documented 20/s), each deletion
// journaled before it is sent and after it is answered.
//
// The journal is the fleet journal's format and writer (journal.hpp: flock,
// fdatasync in groups, torn tail cut), in a file of its own,
// <state dir>/prune-<run-id>.journal: an "intent" record names the group
// about to be deleted, "deleted" (answered, or InvalidSnapshotId.NotFound)
// or "failed" follows. Its header's name_prefix is "prune <prefix>", so a
// fleet run pointed at it (or the reverse) is refused. A re-run with the same
// --run-id re-lists and re-plans (the plan only depends on what exists), and
// reports the groups the journal has as deleted as deleted_earlier instead of
// planning them again, even if a lagging listing still shows them.
#include "prune.hpp"

#include "fleet_output.hpp"

#include <CLI/CLI.hpp>

#include <cbs/client.hpp>
#include <cbs/detail/fleet_driver.hpp>
#include <cbs/fleet_names.hpp>
#include <cbs/journal.hpp>
#include <cbs/paginate.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <set>

namespace cbsctl {

namespace {

namespace asio = boost::asio;

/// Deletions in flight at once: enough to keep the limiter's 19/s busy over
/// slow answers; the limiter, not this, sets the pace.
constexpr int delete_workers = 8;

struct prune_options {
    connection_options conn;
    std::optional<std::string> keep_last;  // parsed here, so "-1" gets a message naming the option
    std::optional<std::chrono::milliseconds> older_than;
    std::string name_prefix, run_id, report_path;
    std::vector<std::string> instances;
    std::optional<std::string> journal;
    output_format output = output_format::json;
    bool yes = false, allow_delete_newest = false, json = false;
};

std::int64_t unix_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// Waits until record `seq` is durable (the fleet's wait: back on our
/// executor, bounded by 30 s). "" or what failed.
asio::awaitable<std::string> wait_durable(cbs::journal_sink& j, std::uint64_t seq) {
    auto [ec, diag] = co_await cbs::detail::fleet_wait_durable(j, seq, std::chrono::seconds(30));
    co_return ec ? (diag.client_message.empty() ? ec.message() : diag.client_message) : std::string();
}

int run_prune(prune_options& o);

}  // namespace

command_runner add_prune_command(CLI::App& root) {
    auto o = std::make_shared<prune_options>();
    auto* cmd = root.add_subcommand(
        "prune", "delete old snapshot-fleet groups: keep the newest N per instance and/or those younger than an age");
    const std::string what = "What to delete";
    cmd->add_option("--keep-last", o->keep_last,
                    "keep the newest N NORMAL groups of each instance (per name prefix); 0 needs --allow-delete-newest")
        ->type_name("N")
        ->group(what);
    add_duration_option(*cmd, "--older-than", o->older_than,
                        std::string("delete only groups older than this (with --keep-last: outside the newest N and "
                                    "older); ") +
                            duration_syntax,
                        false, true)
        ->group(what);
    cmd->add_option("--name-prefix", o->name_prefix,
                    "only groups named <prefix>-<instance-id>-<run-id> (default: every name of that pattern)")
        ->group(what);
    cmd->add_option("--instance", o->instances, "only this instance's groups (repeatable)")
        ->type_name("ID")
        ->group(what);
    cmd->add_flag("--allow-delete-newest", o->allow_delete_newest,
                  "the newest NORMAL group of an instance may be deleted too (and --keep-last 0 is allowed)")
        ->group(what);
    cmd->add_flag("--yes", o->yes, "delete; without it the plan is printed and nothing is deleted");
    cmd->add_option("--run-id", o->run_id,
                    "names the journal and report (default: UTC time and a random suffix); the same id resumes");
    cmd->add_option("--journal", o->journal,
                    "default $CBS_STATE_DIR/prune-<run-id>.journal (else $XDG_STATE_HOME/cbs-async/..., else "
                    "~/.local/state/cbs-async/...); locked while the run lasts")
        ->type_name("FILE");
    cmd->add_option("--report", o->report_path,
                    "default ./cbsctl-prune-<run-id>.report.json with --yes (none without, unless given); - for "
                    "standard output; written whole or not at all")
        ->type_name("FILE");
    add_output_option(*cmd, o->output)
        ->description(
            "how the plan is printed: table, json or text (default: table "
            "on a terminal, json otherwise)");
    cmd->add_flag("--json", o->json, "print one JSON object (run id, report, region, counts) instead of the plan");
    add_connection_options(*cmd, o->conn);
    cmd->footer(
        "Only names of snapshot-fleet's pattern are considered; groups not NORMAL (CREATING, ROLLBACKING) are never\n"
        "deleted, nor the newest NORMAL group of an instance unless --allow-delete-newest.\n"
        "Example: cbsctl prune --keep-last 7 --older-than 7d --name-prefix nightly --yes\n\n"
        "Exit status: 0 every planned deletion done (or the plan printed); 1 some failed or were not sent (the\n"
        "journal failed), or the listing failed; 2 usage or configuration error; 130 interrupted (the deletions\n"
        "in flight finish and the report is written; the same --run-id resumes).");
    return [o] { return run_prune(*o); };
}

namespace {

/// Reads --keep-last: a whole number >= 0.
std::size_t parse_keep_last(const std::string& text) {
    const bool digits = !text.empty() && text.size() <= 9 && text.find_first_not_of("0123456789") == std::string::npos;
    if (!digits) throw usage_error("--keep-last expects a whole number >= 0, got '" + text + "'");
    return static_cast<std::size_t>(std::stoul(text));
}

cbs::retention_group to_retention(const cbs::snapshot_group& g) {
    return {g.snapshot_group_id, g.name, g.state, g.create_time, cbs::parse_create_time(g.create_time)};
}

/// Lists, plans and (with a journal) deletes, on `io`; fills `r`. Returns ""
/// or why the listing failed.
struct prune_run {
    cbs::client& client;
    cbs::retention_options ro;
    cbs::journal_sink* journal = nullptr;
    std::set<std::string> deleted_before;  // the journal's deleted groups
    prune_result& r;
    bool stop = false;        // Ctrl-C: send nothing more
    std::string list_error;   // the listing failed
    bool list_usage = false;  // ... for a configuration reason (exit 2)

    asio::awaitable<void> list_and_plan() {
        const cbs::describe_snapshot_groups_request all;  // named: see the note in paginate.hpp
        auto listed = co_await cbs::async_describe_all_snapshot_groups(client, all, cbs::as_result);
        if (listed.ec) {
            list_error = "listing snapshot groups (DescribeSnapshotGroups): " + listed.diag.to_string(listed.ec);
            list_usage = listed.ec == cbs::client_errc::invalid_config ||
                         listed.ec == cbs::client_errc::credentials_missing ||
                         listed.ec == cbs::client_errc::credentials_invalid;
            co_return;
        }
        std::vector<cbs::retention_group> groups;
        for (const auto& g : listed.value)
            if (!deleted_before.contains(g.snapshot_group_id)) groups.push_back(to_retention(g));
        ro.now = unix_now_ms() / 1000;
        r.plan = cbs::plan_retention(std::move(groups), ro);
        for (auto& d : r.plan.deletions()) r.deletions.push_back({std::move(d), "planned", {}, {}, {}});
    }

    asio::awaitable<void> delete_one(prune_deletion& del) {
        const auto& g = del.decision;
        auto record = [&](std::string state) {
            return journal->append({std::move(state), g.instance_id, g.group.name, g.group.id, unix_now_ms()});
        };
        // Durable before the send: a crash after it leaves an intent that the
        // next run settles by listing.
        if (auto err = co_await wait_durable(*journal, record("intent")); !err.empty()) {
            if (r.journal_error.empty()) r.journal_error = err;
            co_return;  // stays not_started
        }
        cbs::delete_snapshot_group_request req;
        req.snapshot_group_ids = {g.group.id};
        auto a = co_await client.async_invoke(req, cbs::as_result);
        del.request_id = a.ec ? a.diag.request_id : a.value.request_id;
        if (!a.ec) {
            del.outcome = "deleted";
        } else if (a.ec == cbs::api_errc::invalid_snapshot_id_not_found) {
            del.outcome = "already_gone";
        } else {
            del.outcome = "failed";
            del.error_code = a.diag.server_code.empty() ? a.ec.message() : a.diag.server_code;
            del.error_message = a.diag.to_string(a.ec);
        }
        record(del.outcome == "failed" ? "failed" : "deleted");
    }

    asio::awaitable<void> delete_all() {
        auto ex = co_await asio::this_coro::executor;
        std::size_t next = 0;
        int running = delete_workers;
        asio::steady_timer all_done(ex, asio::steady_timer::time_point::max());
        for (int w = 0; w < delete_workers; ++w)
            asio::co_spawn(
                ex,
                [&]() -> asio::awaitable<void> {
                    while (!stop && r.journal_error.empty() && next < r.plan.to_delete)
                        co_await delete_one(r.deletions[next++]);
                },
                [&](const std::exception_ptr&) {
                    if (--running == 0) all_done.cancel();
                });
        if (running > 0) co_await all_done.async_wait(asio::as_tuple(asio::use_awaitable));
        for (auto& d : r.deletions)
            if (d.outcome == "planned") d.outcome = "not_started";
    }
};

int exit_for(const prune_result& r) {
    if (r.interrupted) return exit_interrupted;
    const bool all_done = r.count("failed") == 0 && r.count("not_started") == 0 && r.journal_error.empty();
    return all_done ? exit_ok : exit_failed;
}

int run_prune(prune_options& o) {
    cbs::retention_options ro;
    if (o.keep_last) ro.keep_last = parse_keep_last(*o.keep_last);
    if (o.older_than) ro.older_than = std::chrono::duration_cast<std::chrono::seconds>(*o.older_than);
    ro.prefix = o.name_prefix;
    for (const auto& item : o.instances)
        for (auto& id : split_ids(item)) ro.instances.push_back(std::move(id));
    ro.allow_delete_newest = o.allow_delete_newest;
    if (cbs::diagnostics diag; cbs::validate(ro, diag)) throw usage_error(diag.client_message);
    if (!o.name_prefix.empty() && o.name_prefix.find_first_of(" /") != std::string::npos)
        throw usage_error("--name-prefix '" + o.name_prefix + "' has a space or '/' (no fleet name has)");
    if (o.json && o.report_path == "-")
        throw usage_error("--json and --report - both write to standard output; choose one");
    const bool generated_id = o.run_id.empty();
    if (generated_id) o.run_id = default_run_id();
    if (!cbs::is_run_id(o.run_id))
        throw usage_error("--run-id '" + o.run_id +
                          "': 1 to 64 letters, digits, '.', '_' or '-' (not starting with '.')");

    prune_result r;
    r.run_id = o.run_id;
    r.executed = o.yes;
    r.options = {{"keep_last", ro.keep_last ? boost::json::value(*ro.keep_last) : nullptr},
                 {"older_than_s", ro.older_than ? boost::json::value(ro.older_than->count()) : nullptr},
                 {"name_prefix", o.name_prefix},
                 {"allow_delete_newest", o.allow_delete_newest},
                 {"yes", o.yes}};
    boost::json::array inst;
    for (const auto& i : ro.instances) inst.emplace_back(i);
    r.options["instances"] = std::move(inst);

    if (o.yes && !o.journal) {
        const auto dir = cbs::default_journal_dir();
        if (dir.empty())
            throw usage_error(
                "no state directory for the journal: set CBS_STATE_DIR (or HOME), or give --journal FILE");
        cbs::diagnostics diag;
        if (cbs::make_directories(dir, diag)) throw usage_error("journal directory: " + diag.client_message);
        o.journal = dir + "/prune-" + o.run_id + ".journal";
    }
    if (o.journal && o.journal->empty()) throw usage_error("--journal needs a file name");
    if (o.report_path.empty() && o.yes) o.report_path = "cbsctl-prune-" + o.run_id + ".report.json";
    std::optional<report_file> report;  // checked (its temporary created) before any call
    if (!o.report_path.empty()) report.emplace(o.report_path);

    auto params = make_client_params(o.conn);
    r.region = params.region;
    r.endpoint = params.endpoint;
    asio::io_context io;
    auto client = make_client(io.get_executor(), params);

    prune_run run{client, ro, nullptr, {}, r, false, {}, false};
    std::unique_ptr<cbs::journal_sink> journal;
    if (o.yes) {
        r.journal = *o.journal;
        cbs::journal_header h{o.run_id, "prune " + (o.name_prefix.empty() ? "(every fleet name)" : o.name_prefix),
                              params.region, params.endpoint, cbs::secret_id_fingerprint(params.creds.secret_id)};
        cbs::journal_contents existing;
        cbs::error_code ec;
        cbs::diagnostics diag;
        journal = cbs::open_file_journal(*o.journal, h, existing, ec, diag);
        if (!journal) throw usage_error(diag.client_message);
        run.journal = journal.get();
        for (const auto& [instance, e] : existing.instances)
            for (const auto& id : e.deleted_group_ids) {
                run.deleted_before.insert(id);
                prune_deletion d;
                d.decision.group.id = id;
                d.decision.instance_id = instance;
                d.outcome = "deleted_earlier";
                r.deletions.push_back(std::move(d));
            }
    }
    if (!o.json)
        std::cerr << "cbsctl: prune run " << o.run_id
                  << (o.yes ? ", journal " + r.journal : std::string(", plan only (no --yes)")) << "\n";

    // Ctrl-C: nothing more is sent, the deletions in flight finish, the
    // report is written (exit 130). A second one ends the process at once.
    asio::signal_set signals(io, SIGINT, SIGTERM);
    int signals_seen = 0;
    std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code& ec,
                                                                               int) {
        if (ec) return;
        if (++signals_seen > 1) {
            if (report) report->abandon();
            std::_Exit(exit_interrupted);
        }
        std::cerr << "\ncbsctl: stopping: finishing the deletions in flight, then writing the report\n";
        run.stop = true;
        r.interrupted = true;
        signals.async_wait(on_signal);
    };
    signals.async_wait(on_signal);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            co_await run.list_and_plan();
            if (!run.list_error.empty()) co_return;
            const std::size_t earlier = r.deletions.size() - r.plan.to_delete;
            std::rotate(r.deletions.begin(), r.deletions.begin() + static_cast<std::ptrdiff_t>(earlier),
                        r.deletions.end());  // this invocation's first
            if (!o.json) {
                print_plan(std::cout, r, o.output);
                std::cout << std::flush;
                std::cerr << "cbsctl: " << plan_counts_line(r) << "\n";
                if (!o.yes)
                    std::cerr << "cbsctl: " << r.plan.to_delete
                              << " groups would be deleted; run again with --yes to delete them\n";
            }
            if (o.yes && !run.stop) co_await run.delete_all();
        },
        [&](const std::exception_ptr&) { signals.cancel(); });
    io.run();
    if (o.yes)
        for (auto& d : r.deletions)
            if (d.outcome == "planned") d.outcome = "not_started";  // interrupted before the deletions began
    if (journal) {
        journal->close();
        if (cbs::diagnostics d; journal->failed(d) && r.journal_error.empty()) r.journal_error = d.client_message;
    }
    if (!run.list_error.empty()) {
        if (report) report->abandon();
        std::cerr << "cbsctl: prune: " << run.list_error << "\n";
        return run.list_usage ? exit_usage : exit_failed;
    }
    int status = exit_for(r);
    r.report = report ? report->display() : "";
    if (report)
        if (auto err = report->commit(json_text(prune_report(r)) + "\n"); !err.empty()) {
            std::cerr << "cbsctl: " << err << "\n";
            r.report = "(not written: " + err + ")";
            if (status == exit_ok) status = exit_failed;
        }
    if (o.json) {
        std::cout << json_text(prune_summary(r, status)) << "\n" << std::flush;
    } else if (o.yes) {
        std::cerr << "cbsctl: prune run " << r.run_id << ": " << r.count("deleted") << " deleted, "
                  << r.count("already_gone") << " already gone, " << r.count("failed") << " failed, "
                  << r.count("not_started") << " not started, " << r.count("deleted_earlier")
                  << " deleted by an earlier invocation; " << r.plan.kept << " kept\n";
        for (const auto& d : r.deletions)
            if (d.outcome == "failed")
                std::cerr << "cbsctl:   " << d.decision.group.id << ": " << d.error_message << "\n";
        if (!r.journal_error.empty()) std::cerr << "cbsctl: journal failed: " << r.journal_error << "\n";
        std::cerr << "cbsctl: report: " << r.report << "\n";
    }
    return status;
}

}  // namespace

}  // namespace cbsctl
