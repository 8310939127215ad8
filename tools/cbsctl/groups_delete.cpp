// cbsctl groups delete: deletes the groups named or selected, after showing
// them and with --yes (or a yes on the terminal). One group per
// DeleteSnapshotGroup call: the call is all-or-nothing, so one missing group
// would otherwise fail the others, and each group gets its own outcome line.
// A few calls run at once and the client's limiter (0.95 x the documented
// 20/s) paces them, so the service never throttles the delete.
#include "groups.hpp"
#include "table.hpp"

#include <CLI/CLI.hpp>

#include <cbs/client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <unistd.h>
#include <algorithm>
#include <iostream>
#include <memory>

namespace cbsctl::groups {

namespace {

/// Calls in flight at once: enough to keep 19/s going at the service's
/// latency (~100-300 ms), few enough to leave the pool to others.
constexpr std::size_t delete_concurrency = 4;

struct delete_options {
    std::vector<std::string> ids;
    selection sel;
    bool yes = false;
    bool delete_bind_images = false;
    connection_options conn;
};

struct tally {
    std::size_t deleted = 0, already_gone = 0, failed = 0;
};

/// Deletes targets[next...] one by one until none is left; several run at
/// once, sharing `next` (one thread: no race).
boost::asio::awaitable<void> delete_worker(cbs::client& c, const std::vector<std::string>& targets,
                                           const std::vector<std::string>& names, std::size_t& next, bool bind_images,
                                           tally& t) {
    while (next < targets.size()) {
        const std::size_t i = next++;
        cbs::delete_snapshot_group_request req;
        req.snapshot_group_ids = {targets[i]};
        req.delete_bind_images = bind_images;
        auto r = co_await c.async_invoke(req, cbs::as_result);
        const std::string label = targets[i] + (names[i].empty() ? "" : " (" + printable_cell(names[i]) + ")");
        if (!r.ec) {
            ++t.deleted;
            std::cout << "deleted " << label << "\n" << std::flush;
        } else if (r.diag.server_code == "InvalidSnapshotId.NotFound") {
            // Gone already (deleted by someone else, or by an earlier run
            // whose answer was lost): the goal is reached.
            ++t.already_gone;
            std::cout << "already deleted " << label << "\n" << std::flush;
        } else {
            ++t.failed;
            std::cerr << "cbsctl: not deleted " << label << ": " << r.diag.to_string(r.ec) << "\n" << std::flush;
        }
    }
}

int run_delete(delete_options& o) {
    for (const auto& id : o.ids)
        if (!cbs::is_valid_snapshot_group_id(id))
            throw usage_error("groups delete: '" + id +
                              "' is not a snapshot group id (csnap- and 8 lower-case letters or digits)");
    check_selection(o.sel);
    const bool filtered =
        !o.sel.run_id.empty() || !o.sel.name_prefix.empty() || !o.sel.instances.empty() || o.sel.older_than.has_value();
    if (o.ids.empty() && !filtered)
        throw usage_error(
            "groups delete needs group IDs or a filter (--run-id, --name-prefix, --instance, --older-than); it never "
            "deletes every group");
    o.sel.group_ids = o.ids;
    return run_with_client(o.conn, [&](cbs::client& c) -> boost::asio::awaitable<int> {
        const auto found = co_await fetch_groups(c, o.sel);
        std::vector<std::string> targets, names;
        std::vector<std::vector<std::string>> rows;
        for (const auto& g : found) {
            targets.push_back(g.snapshot_group_id);
            names.push_back(g.name);
            rows.push_back(
                {g.snapshot_group_id, g.name, g.state, g.create_time, std::to_string(g.snapshot_ids.size())});
        }
        // Ids given by name but not listed (the listing lags behind creation,
        // or the group is gone): still sent when nothing else narrows them,
        // DeleteSnapshotGroup decides.
        if (!filtered)
            for (const auto& id : o.ids)
                if (std::find(targets.begin(), targets.end(), id) == targets.end()) {  // once each
                    targets.push_back(id);
                    names.emplace_back();
                    rows.push_back({id, "-", "(not listed)", "-", "-"});
                }
        if (targets.empty()) {
            std::cout << "no snapshot group in " << o.conn.region << " matches: nothing to delete\n";
            co_return exit_ok;
        }
        const std::string what = std::to_string(targets.size()) + " snapshot group" + (targets.size() == 1 ? "" : "s");
        std::cout << "to delete, " << what << " in " << o.conn.region
                  << (o.delete_bind_images ? " (with their images)" : "") << ":\n";
        print_table(std::cout, {"GROUP ID", "NAME", "STATE", "CREATED", "SNAPSHOTS"}, rows);
        std::cout.flush();
        if (!o.yes) {
            if (!::isatty(STDIN_FILENO) || !::isatty(STDERR_FILENO))
                throw usage_error("refusing to delete " + what + " without --yes");
            if (!confirm("delete " + what + " and their snapshots?")) {
                std::cerr << "cbsctl: nothing deleted\n";
                co_return exit_failed;
            }
        }
        tally t;
        std::size_t next = 0;
        std::size_t running = std::min(delete_concurrency, targets.size());
        auto ex = co_await boost::asio::this_coro::executor;
        boost::asio::steady_timer done(ex, boost::asio::steady_timer::time_point::max());
        for (std::size_t w = 0; w < running; ++w)
            boost::asio::co_spawn(ex, delete_worker(c, targets, names, next, o.delete_bind_images, t),
                                  [&](const std::exception_ptr&) {
                                      if (--running == 0) done.cancel();
                                  });
        boost::system::error_code ec;
        co_await done.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
        std::cerr << "cbsctl: deleted " << t.deleted << " of " << targets.size() << " snapshot groups in "
                  << o.conn.region << " (" << t.already_gone << " already gone, " << t.failed << " failed)\n";
        co_return t.failed ? exit_failed : exit_ok;
    });
}

}  // namespace

command_runner add_delete_command(CLI::App& groups) {
    auto o = std::make_shared<delete_options>();
    auto* cmd = groups.add_subcommand("delete", "delete snapshot groups (and their snapshots), paced, with --yes");
    cmd->add_option("ID", o->ids, "groups to delete, csnap-xxxxxxxx")->type_name("");
    add_selection_options(*cmd, o->sel, true);
    cmd->add_flag("--yes,-y", o->yes, "delete without asking (required when standard input is not a terminal)");
    cmd->add_flag("--delete-bind-images", o->delete_bind_images,
                  "also delete the images made from the groups (DeleteBindImages); without it a group with images "
                  "is not deleted");
    add_connection_options(*cmd, o->conn);
    cmd->footer(
        "Give group IDs, or select like 'groups list' with at least one of --run-id, --name-prefix,\n"
        "--instance, --older-than (both: the IDs that match the filters). The groups are listed first; they\n"
        "are deleted only with --yes or a 'y' on the terminal, one call per group at the documented rate\n"
        "(20/s). A group already gone (InvalidSnapshotId.NotFound) counts as deleted.\n"
        "Exit status: 0 all deleted, 1 some not deleted (or not confirmed), 2 usage error (or no --yes\n"
        "without a terminal).\n"
        "Example: cbsctl groups delete --run-id 20261129 --older-than 30d --yes");
    return [o] { return run_delete(*o); };
}

}  // namespace cbsctl::groups
