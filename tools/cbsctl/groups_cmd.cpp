// cbsctl groups list|show|delete: what exists, one group in detail, and
// deleting groups (groups_delete.cpp). DescribeSnapshotGroups has no tag
// filter, so a fleet's groups are recognised by their names,
// <prefix>-<instance-id>-<run-id> (fleet_names.hpp).
#include "groups.hpp"
#include "table.hpp"

#include <CLI/CLI.hpp>

#include <cbs/client.hpp>
#include <cbs/paginate.hpp>

#include <boost/json/serialize.hpp>

#include <iostream>
#include <map>
#include <memory>

namespace cbsctl {

namespace groups {
namespace {

struct list_options {
    selection sel;
    output_format output = output_format::json;
    connection_options conn;
};

std::vector<std::string> group_row(const cbs::snapshot_group& g) {
    return {g.snapshot_group_id, g.name, g.state, g.create_time, std::to_string(g.snapshot_ids.size()),
            instance_of(g.name)};
}

int run_list(const list_options& o) {
    check_selection(o.sel);
    return run_with_client(o.conn, [&](cbs::client& c) -> boost::asio::awaitable<int> {
        const auto found = co_await fetch_groups(c, o.sel);
        std::vector<std::vector<std::string>> rows;
        rows.reserve(found.size());
        for (const auto& g : found) rows.push_back(group_row(g));
        if (o.output == output_format::table) {
            print_table(std::cout, {"GROUP ID", "NAME", "STATE", "CREATED", "SNAPSHOTS", "INSTANCE"}, rows);
        } else if (o.output == output_format::text) {
            print_text(std::cout, rows);
        } else {
            boost::json::array arr;
            for (const auto& g : found) arr.emplace_back(group_json(g));
            boost::json::object out{{"region", o.conn.region},
                                    {"count", static_cast<std::uint64_t>(found.size())},
                                    {"groups", std::move(arr)}};
            std::cout << boost::json::serialize(out) << "\n";
        }
        std::cout.flush();
        co_return std::cout ? exit_ok : exit_failed;
    });
}

struct show_options {
    std::string id;
    output_format output = output_format::json;
    connection_options conn;
};

std::string yes_no(bool b) {
    return b ? "yes" : "no";
}

int run_show(const show_options& o) {
    if (!cbs::is_valid_snapshot_group_id(o.id))
        throw usage_error("groups show: '" + o.id +
                          "' is not a snapshot group id (csnap- and 8 lower-case letters or digits)");
    return run_with_client(o.conn, [&](cbs::client& c) -> boost::asio::awaitable<int> {
        selection sel;
        sel.group_ids = {o.id};
        const auto found = co_await fetch_groups(c, sel);
        if (found.empty()) {
            std::cerr << "cbsctl: snapshot group " << o.id << " not found in " << o.conn.region << "\n";
            co_return exit_failed;
        }
        const auto& g = found.front();
        // The member snapshots, for their disks: 100 ids per filter.
        std::map<std::string, cbs::snapshot> snaps;
        for (std::size_t i = 0; i < g.snapshot_ids.size(); i += 100) {
            cbs::describe_snapshots_request req;
            const auto end = std::min(g.snapshot_ids.size(), i + 100);
            req.filters = {{"snapshot-id",
                            {g.snapshot_ids.begin() + static_cast<std::ptrdiff_t>(i),
                             g.snapshot_ids.begin() + static_cast<std::ptrdiff_t>(end)}}};
            auto r = co_await cbs::async_describe_all_snapshots(c, std::move(req), cbs::as_result);
            if (r.ec) throw call_failed(failure_text("DescribeSnapshots", r.ec, r.diag));
            for (auto& s : r.value) snaps.emplace(s.snapshot_id, std::move(s));
        }
        // A snapshot missing from the listing (it lags behind creation) is
        // shown with what the group says: its id.
        std::vector<std::vector<std::string>> rows;
        boost::json::array members;
        for (const auto& id : g.snapshot_ids) {
            const auto it = snaps.find(id);
            if (it == snaps.end()) {
                rows.push_back({id, "-", "-", "-", "(not listed)"});
                members.push_back(boost::json::object{{"snapshot_id", id}, {"listed", false}});
                continue;
            }
            const auto& s = it->second;
            rows.push_back({id, s.disk_id, s.disk_usage, std::to_string(s.disk_size), s.state});
            members.push_back(boost::json::object{{"snapshot_id", id},
                                                  {"listed", true},
                                                  {"disk_id", s.disk_id},
                                                  {"disk_usage", s.disk_usage},
                                                  {"disk_size_gib", s.disk_size},
                                                  {"state", s.state},
                                                  {"percent", s.percent},
                                                  {"create_time", s.create_time}});
        }
        if (o.output == output_format::json) {
            auto j = group_json(g);
            j["snapshots"] = std::move(members);
            std::cout << boost::json::serialize(boost::json::object{{"region", o.conn.region}, {"group", std::move(j)}})
                      << "\n";
            co_return exit_ok;
        }
        const auto parts = cbs::parse_fleet_group_name(g.name);
        std::vector<std::pair<std::string, std::string>> fields = {
            {"Group ID", g.snapshot_group_id},
            {"Name", g.name},
            {"State", g.state + (g.state == "CREATING" ? " (" + std::to_string(g.percent) + "%)" : "")},
            {"Type", g.type},
            {"Created", g.create_time},
            {"Modified", g.modify_time},
            {"Instance", parts ? parts->instance_id : "-"},
            {"Run ID", parts ? parts->run_id : "-"},
            {"Root snapshot", yes_no(g.contain_root_snapshot)},
            {"Images", std::to_string(g.image_count)},
            {"Permanent", yes_no(g.is_permanent)},
            {"Deadline", g.deadline_time},
            {"Snapshots", std::to_string(g.snapshot_ids.size())}};
        if (o.output == output_format::text) {
            std::vector<std::vector<std::string>> lines;
            lines.reserve(fields.size() + rows.size());
            for (auto& [k, v] : fields) lines.push_back({k, v});
            for (auto& r : rows) {
                r.insert(r.begin(), "snapshot");
                lines.push_back(std::move(r));
            }
            print_text(std::cout, lines);
        } else {
            print_fields(std::cout, fields);
            std::cout << "\n";
            print_table(std::cout, {"SNAPSHOT ID", "DISK ID", "DISK USAGE", "SIZE GIB", "STATE"}, rows);
        }
        co_return exit_ok;
    });
}

command_runner add_list_command(CLI::App& groups) {
    auto o = std::make_shared<list_options>();
    auto* cmd = groups.add_subcommand("list", "list snapshot groups (every page), filtered");
    add_selection_options(*cmd, o->sel, false);
    add_output_option(*cmd, o->output);
    add_connection_options(*cmd, o->conn);
    cmd->footer(
        "Filters combine (AND). --run-id, --name-prefix and --instance match names of the form\n"
        "<prefix>-<instance-id>-<run-id> (snapshot-fleet's), so they exclude other groups. Ages are from\n"
        "CreateTime, the service's local time (China Standard Time, UTC+8). Groups come in the service's\n"
        "order. Output: table (GROUP ID, NAME, STATE, CREATED, SNAPSHOTS, INSTANCE), text (the same\n"
        "columns, tab-separated, no header) or json ({\"region\", \"count\", \"groups\": [...]}).\n"
        "Exit status: 0 listed (even nothing), 1 a call failed, 2 usage error.\n"
        "Example: cbsctl groups list --run-id 20261129 --older-than 30d");
    return [o] { return run_list(*o); };
}

command_runner add_show_command(CLI::App& groups) {
    auto o = std::make_shared<show_options>();
    auto* cmd = groups.add_subcommand("show", "one snapshot group in detail, with its snapshots and their disks");
    cmd->add_option("ID", o->id, "the group, csnap-xxxxxxxx")->type_name("")->required();
    add_output_option(*cmd, o->output);
    add_connection_options(*cmd, o->conn);
    cmd->footer("Exit status: 0 shown, 1 not found or a call failed, 2 usage error.");
    return [o] { return run_show(*o); };
}

}  // namespace
}  // namespace groups

command_runner add_groups_command(CLI::App& root) {
    auto* cmd = root.add_subcommand("groups", "list, show and delete snapshot groups");
    cmd->require_subcommand(1);
    auto runners = std::make_shared<std::vector<std::pair<const CLI::App*, command_runner>>>();
    for (auto add : {groups::add_list_command, groups::add_show_command, groups::add_delete_command}) {
        const auto before = cmd->get_subcommands({}).size();
        auto run = add(*cmd);
        runners->emplace_back(cmd->get_subcommands({}).at(before), std::move(run));
    }
    return [runners] {
        for (auto& [app, run] : *runners)
            if (app->parsed()) return run();
        throw usage_error("groups needs a subcommand: list, show or delete");
    };
}

}  // namespace cbsctl
