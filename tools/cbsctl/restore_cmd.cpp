// cbsctl restore: roll an instance's disks back to a snapshot group
// (ApplySnapshotGroup). Shows what will be rolled back (the group's member
// snapshots and the disks they were taken from, DescribeSnapshots and
// DescribeDisks), asks for --yes (or a y on a terminal), sends one
// ApplySnapshotGroup, then waits until the group has left ROLLBACKING and no
// disk is Rollbacking any more.
//
// The service only accepts the rollback of a stopped instance (or with
// AutoStopInstance): its UnsupportedOperation.StateError about a running
// instance is turned into what to do about it. ApplySnapshotGroup is not
// idempotent for the client, so an unanswered send is never repeated: the
// wait then decides, from the group's state, whether it was accepted.
#include "cli.hpp"

#include "fleet_output.hpp"

#include <CLI/CLI.hpp>

#include <cbs/client.hpp>
#include <cbs/describe_actions.hpp>
#include <cbs/fleet_names.hpp>
#include <cbs/paginate.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>

#include <algorithm>
#include <cctype>
#include <iostream>
#include <map>

namespace cbsctl {

namespace {

namespace asio = boost::asio;

struct restore_options {
    connection_options conn;
    std::string group;
    std::vector<std::string> disks;
    std::chrono::milliseconds wait_timeout{std::chrono::minutes(30)};
    std::chrono::milliseconds poll{std::chrono::seconds(1)};
    bool auto_stop = false, auto_start = false, yes = false, no_wait = false, json = false;
};

int run_restore(restore_options& o);

}  // namespace

command_runner add_restore_command(CLI::App& root) {
    auto o = std::make_shared<restore_options>();
    auto* cmd =
        root.add_subcommand("restore", "roll an instance's disks back to a snapshot group (ApplySnapshotGroup)");
    cmd->add_option("--group", o->group, "the snapshot group to roll back to, csnap-xxxxxxxx (required)")
        ->type_name("ID");
    cmd->add_option("--disk", o->disks, "only this disk of the group (repeatable; default: every disk of the group)")
        ->type_name("DISK-ID");
    cmd->add_flag("--auto-stop", o->auto_stop, "stop a running instance first (AutoStopInstance)");
    cmd->add_flag("--auto-start", o->auto_start, "start the instance again once rolled back (AutoStartInstance)");
    cmd->add_flag("--yes", o->yes, "roll back without asking (required when standard input is not a terminal)");
    cmd->add_flag("--no-wait", o->no_wait, "return once the rollback is accepted, without waiting for it to finish");
    add_duration_option(*cmd, "--wait-timeout", o->wait_timeout, "how long to wait for the rollback to finish");
    add_duration_option(*cmd, "--poll-interval", o->poll, "how often the group and disks are described while waiting");
    cmd->add_flag("--json", o->json, "print one JSON object (group, instance, region, disks, outcome) on stdout");
    add_connection_options(*cmd, o->conn);
    cmd->footer(
        "The instance must be stopped, or --auto-stop given: the service refuses to roll back the disks of a\n"
        "running instance. Everything written to the disks since the group was taken is lost.\n"
        "Example: cbsctl restore --group csnap-oavcw09g --auto-stop --auto-start --yes\n\n"
        "Exit status: 0 rolled back (or accepted, with --no-wait); 1 refused by the service, failed, not found or\n"
        "not finished within --wait-timeout; 2 usage error, or no --yes (nothing sent).");
    return [o] { return run_restore(*o); };
}

namespace {

bool mentions_running(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    return text.find("running") != std::string::npos;
}

/// What is rolled back: the member snapshot of each disk.
struct target {
    std::string disk_id, snapshot_id, usage;
};

struct restore_run {
    restore_run(cbs::client& c, restore_options& opts, std::string r) : client(c), o(opts), region(std::move(r)) {}
    cbs::client& client;
    restore_options& o;
    std::string region;
    std::string instance, request_id, outcome = "failed", error;
    std::size_t disks = 0;
    int status = exit_failed;
    std::chrono::steady_clock::time_point started{};

    int fail(std::string message, int code = exit_failed) {
        error = std::move(message);
        std::cerr << "cbsctl: restore: " << error << "\n";
        return status = code;
    }

    asio::awaitable<std::optional<cbs::snapshot_group>> describe_group() {
        cbs::describe_snapshot_groups_request req;
        req.filters = {{"snapshot-group-id", {o.group}}};
        auto r = co_await client.async_invoke(req, cbs::as_result);
        if (r.ec) {
            fail("DescribeSnapshotGroups: " + r.diag.to_string(r.ec));
            co_return std::nullopt;
        }
        for (auto& g : r.value.snapshot_group_set)
            if (g.snapshot_group_id == o.group) co_return std::move(g);
        fail("snapshot group " + o.group + " not found in region " + region);
        co_return std::nullopt;
    }

    asio::awaitable<int> run() {
        auto group = co_await describe_group();
        if (!group) co_return status;
        if (group->state != "NORMAL")
            co_return fail("snapshot group " + o.group + " is " + group->state +
                           "; only a NORMAL group can be rolled back (wait for it, then run again)");
        // The member snapshots give the disk each was taken from.
        cbs::describe_snapshots_request sreq;
        sreq.snapshot_ids = group->snapshot_ids;
        if (sreq.snapshot_ids.empty()) co_return fail("snapshot group " + o.group + " has no member snapshots");
        auto snaps = co_await cbs::async_describe_all_snapshots(client, sreq, cbs::as_result);
        if (snaps.ec) co_return fail("DescribeSnapshots: " + snaps.diag.to_string(snaps.ec));
        std::map<std::string, target> by_disk;
        for (const auto& s : snaps.value) by_disk[s.disk_id] = {s.disk_id, s.snapshot_id, s.disk_usage};
        std::vector<target> targets;
        if (o.disks.empty()) {
            for (auto& [id, t] : by_disk) targets.push_back(t);
        } else {
            for (const auto& d : o.disks) {
                auto it = by_disk.find(d);
                if (it == by_disk.end()) {
                    std::string all;
                    for (const auto& [id, t] : by_disk) all += (all.empty() ? "" : ", ") + id;
                    std::string why = "--disk " + d;
                    why.append(" is not a disk of snapshot group ").append(o.group);
                    why.append(" (its disks: ").append(all).append(")");
                    co_return fail(why, exit_usage);
                }
                targets.push_back(it->second);
            }
        }
        disks = targets.size();
        // The instance the disks are attached to (from the group's name when
        // they are not attached any more).
        cbs::describe_disks_request dreq;
        for (const auto& t : targets) dreq.disk_ids.push_back(t.disk_id);
        auto described = co_await cbs::async_describe_all_disks(client, dreq, cbs::as_result);
        if (described.ec) co_return fail("DescribeDisks: " + described.diag.to_string(described.ec));
        for (const auto& d : described.value)
            if (!d.instance_id.empty()) instance = d.instance_id;
        if (instance.empty())
            if (auto parts = cbs::parse_fleet_group_name(group->name)) instance = parts->instance_id;
        const std::string who = instance.empty() ? std::string("(no instance)") : instance;

        std::ostream& out = o.json ? std::cerr : std::cout;
        out << "Roll back " << who << " to snapshot group " << o.group << " '" << group->name << "', created "
            << group->create_time << ":\n";
        for (const auto& t : targets)
            out << "  " << t.disk_id << (t.usage.empty() ? "" : " (" + t.usage + ")") << " <- " << t.snapshot_id
                << "\n";
        out << "Everything written to " << (targets.size() == 1 ? "this disk" : "these disks") << " since then is lost."
            << std::flush;
        out << "\n";
        if (!o.yes && !confirm("Roll back " + who + "?")) {
            outcome = "refused";
            co_return fail("refusing to roll back " + who + " without --yes (nothing was sent)", exit_usage);
        }

        cbs::apply_snapshot_group_request areq;
        areq.snapshot_group_id = o.group;
        for (const auto& t : targets) areq.apply_disks.push_back({t.snapshot_id, t.disk_id});
        areq.auto_stop_instance = o.auto_stop;
        areq.auto_start_instance = o.auto_start;
        started = std::chrono::steady_clock::now();
        auto a = co_await client.async_invoke(areq, cbs::as_result);
        request_id = a.ec ? a.diag.request_id : a.value.request_id;
        bool maybe = false;
        if (a.ec == cbs::client_errc::outcome_unknown) {
            maybe = true;  // never sent again: the group's state tells
            std::cerr << "cbsctl: restore: ApplySnapshotGroup was sent but not answered; looking at the group\n";
        } else if (a.ec) {
            if (a.ec == cbs::api_errc::unsupported_operation_state_error && !o.auto_stop &&
                mentions_running(a.diag.server_message))
                co_return fail("instance " + who +
                               " is running: stop it first, or pass --auto-stop (the instance is stopped, rolled "
                               "back, and started again with --auto-start) [" +
                               a.diag.to_string(a.ec) + "]");
            // The service's wording may change: a StateError without --auto-stop
            // still gets the hint.
            const bool hint = a.ec == cbs::api_errc::unsupported_operation_state_error && !o.auto_stop;
            co_return fail("ApplySnapshotGroup: " + a.diag.to_string(a.ec) +
                           (hint ? " (if " + who + " is running: stop it first, or pass --auto-stop)" : ""));
        } else if (!o.json) {
            std::cerr << "cbsctl: restore: accepted (RequestId " << request_id << ")\n";
        }
        if (o.no_wait && !maybe) {
            outcome = "accepted";
            co_return status = exit_ok;
        }
        co_return co_await wait(dreq, maybe);
    }

    /// Polls until the group is NORMAL and no disk is rolling back. Right
    /// after the answer the listing may not show ROLLBACKING yet: "done"
    /// needs the rollback seen, or every disk at RollbackPercent 100, or
    /// three quiet polls.
    asio::awaitable<int> wait(const cbs::describe_disks_request& dreq, bool maybe) {
        asio::steady_timer timer(co_await asio::this_coro::executor);
        const auto deadline = started + o.wait_timeout;
        bool seen = false;
        int quiet = 0;
        std::string last;
        while (std::chrono::steady_clock::now() < deadline) {
            timer.expires_after(o.poll);
            co_await timer.async_wait(asio::use_awaitable);
            auto group = co_await describe_group();
            if (!group) co_return status;
            auto d = co_await cbs::async_describe_all_disks(client, dreq, cbs::as_result);
            if (d.ec) co_return fail("DescribeDisks: " + d.diag.to_string(d.ec));
            std::size_t rolling = 0, at_100 = 0;
            std::string detail;
            for (const auto& disk : d.value) {
                if (disk.rollbacking || disk.disk_state == "ROLLBACKING") {
                    ++rolling;
                    detail += " " + disk.disk_id + " " + std::to_string(disk.rollback_percent) + "%";
                }
                if (disk.rollback_percent == 100) ++at_100;
            }
            seen = seen || rolling > 0 || group->state == "ROLLBACKING";
            const std::string line = "group " + group->state + ", " + std::to_string(rolling) + " of " +
                                     std::to_string(d.value.size()) + " disks rolling back" + detail;
            if (line != last && !o.json) std::cerr << "cbsctl: restore: " << line << "\n";
            last = line;
            if (group->state != "NORMAL" || rolling > 0) continue;
            ++quiet;
            if (maybe && !seen && quiet >= 3)
                co_return fail(
                    "ApplySnapshotGroup was not answered and the group never showed a rollback; "
                    "nothing seems to have happened (run again to retry)");
            if (seen || (!maybe && (at_100 == d.value.size() || quiet >= 3))) {
                outcome = "done";
                if (!o.json) std::cerr << "cbsctl: restore: " << instance << " rolled back to " << o.group << "\n";
                co_return status = exit_ok;
            }
        }
        outcome = "timeout";
        co_return fail("the rollback did not finish within --wait-timeout " + format_duration(o.wait_timeout) + " (" +
                       last + "); it goes on at the service");
    }
};

int run_restore(restore_options& o) {
    if (o.group.empty()) throw usage_error("restore needs --group ID (the snapshot group to roll back to, csnap-...)");
    if (!cbs::is_valid_snapshot_group_id(o.group))
        throw usage_error("--group '" + o.group +
                          "' is not a snapshot group id (csnap- and 8 lower-case letters or digits)");
    for (const auto& d : o.disks)
        if (!cbs::is_valid_disk_id(d))
            throw usage_error("--disk '" + d + "' is not a disk id (disk- and 8 lower-case letters or digits)");
    auto params = make_client_params(o.conn);
    asio::io_context io;
    auto client = make_client(io.get_executor(), params);
    restore_run run{client, o, params.region};
    asio::co_spawn(io, run.run(), [&](const std::exception_ptr& e, int) {
        if (e) run.fail("internal error");
    });
    io.run();
    if (o.json) {
        const auto waited =
            run.started == std::chrono::steady_clock::time_point{}
                ? 0
                : std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - run.started)
                      .count();
        boost::json::object j{{"group_id", o.group}, {"instance_id", run.instance}, {"region", run.region},
                              {"disks", run.disks},  {"outcome", run.outcome},      {"request_id", run.request_id},
                              {"waited_ms", waited}, {"exit_status", run.status}};
        if (!run.error.empty()) j["error"] = run.error;
        std::cout << json_text(j) << "\n" << std::flush;
    }
    return run.status;
}

}  // namespace

}  // namespace cbsctl
