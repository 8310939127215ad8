// cbsctl groups: the selection options, fetching the selected groups page by
// page, the service's CreateTime and the JSON of a group (groups.hpp).
#include "groups.hpp"

#include <CLI/CLI.hpp>

#include <cbs/client.hpp>
#include <cbs/paginate.hpp>
#include <cbs/retention.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/array.hpp>

#include <algorithm>
#include <unordered_set>

namespace cbsctl::groups {

namespace {

/// The documented states of a snapshot group (DescribeSnapshotGroups'
/// snapshot-group-state filter).
constexpr std::string_view known_states[] = {"NORMAL", "CREATING", "ROLLBACKING"};

bool contains(const std::vector<std::string>& v, const std::string& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

void add_selection_options(CLI::App& cmd, selection& s, bool for_delete) {
    const std::string g = "Selection";
    // One value per occurrence (repeat the option, or separate with commas),
    // so an option never swallows delete's ID arguments.
    cmd.add_option("--run-id", s.run_id, "groups of this snapshot-fleet run (names <prefix>-<instance-id>-<run-id>)")
        ->type_name("ID")
        ->group(g);
    cmd.add_option("--name-prefix", s.name_prefix, "groups named <prefix>-<instance-id>-<run-id> with this prefix")
        ->type_name("P")
        ->group(g);
    cmd.add_option("--instance", s.instances, "groups of this instance (from the name); repeatable, or ID,ID")
        ->type_name("ins-x")
        ->allow_extra_args(false)
        ->delimiter(',')
        ->group(g);
    add_duration_option(cmd, "--older-than", s.older_than,
                        std::string("created longer ago than this (CreateTime), ") + duration_syntax, false, true)
        ->group(g);
    if (for_delete) return;
    add_duration_option(cmd, "--newer-than", s.newer_than,
                        std::string("created less long ago than this (CreateTime), ") + duration_syntax, false, true)
        ->group(g);
    cmd.add_option("--state", s.states, "NORMAL, CREATING or ROLLBACKING; repeatable, or S,S")
        ->type_name("STATE")
        ->allow_extra_args(false)
        ->delimiter(',')
        ->group(g);
    cmd.add_option("--group-id", s.group_ids, "this group (csnap-xxxxxxxx); repeatable, or ID,ID")
        ->type_name("ID")
        ->allow_extra_args(false)
        ->delimiter(',')
        ->group(g);
    cmd.add_option("--limit", s.limit, "print at most N groups (fetching stops there)")
        ->type_name("N")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000'000}))
        ->group(g);
}

void check_selection(const selection& s) {
    if (!s.run_id.empty() && !cbs::is_run_id(s.run_id))
        throw usage_error("--run-id '" + s.run_id +
                          "': 1 to 64 letters, digits, '.', '_' or '-' (not starting with '.')");
    if (s.name_prefix.find_first_of(" \t\r\n") != std::string::npos)
        throw usage_error("--name-prefix '" + s.name_prefix + "' contains white space");
    for (const auto& i : s.instances)
        if (!cbs::is_instance_id(i))
            throw usage_error("--instance '" + i + "' is not an instance id (ins- and 8 lower-case letters or digits)");
    for (const auto& st : s.states)
        if (std::find(std::begin(known_states), std::end(known_states), st) == std::end(known_states))
            throw usage_error("--state '" + st + "': expects NORMAL, CREATING or ROLLBACKING");
    for (const auto& id : s.group_ids)
        if (!cbs::is_valid_snapshot_group_id(id))
            throw usage_error("--group-id '" + id +
                              "' is not a snapshot group id (csnap- and 8 lower-case letters or digits)");
    if (s.older_than && s.newer_than && *s.newer_than <= *s.older_than)
        throw usage_error("--newer-than " + format_duration(*s.newer_than) + " with --older-than " +
                          format_duration(*s.older_than) + " selects nothing");
}

std::vector<cbs::describe_snapshot_groups_request> server_requests(const selection& s) {
    auto reqs = cbs::snapshot_groups_by_id_batches(s.group_ids);
    if (reqs.empty()) reqs.emplace_back();
    std::vector<cbs::filter> extra;
    if (!s.states.empty()) extra.push_back({"snapshot-group-state", s.states});
    // The name is only known exactly with all three parts (the filter is an
    // equality on the whole name); anything less is matched here.
    if (!s.run_id.empty() && !s.name_prefix.empty() && !s.instances.empty() &&
        s.instances.size() <= cbs::max_describe_limit) {
        cbs::filter f{"snapshot-group-name", {}};
        for (const auto& i : s.instances) f.values.push_back(s.name_prefix + "-" + i + "-" + s.run_id);
        extra.push_back(std::move(f));
    }
    for (auto& r : reqs) {
        r.limit = cbs::max_describe_limit;
        r.offset = 0;
        r.filters.insert(r.filters.end(), extra.begin(), extra.end());
    }
    return reqs;
}

std::optional<std::int64_t> age_seconds(std::string_view create_time, std::chrono::system_clock::time_point now) {
    const auto t = cbs::parse_create_time(create_time);
    if (!t) return std::nullopt;
    return std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() - *t;
}

bool matches(const selection& s, const cbs::snapshot_group& g, std::chrono::system_clock::time_point now) {
    if (s.by_fleet_name()) {
        const auto parts = cbs::parse_fleet_group_name(g.name, s.name_prefix);
        if (!parts) return false;
        if (!s.run_id.empty() && parts->run_id != s.run_id) return false;
        if (!s.instances.empty() && !contains(s.instances, parts->instance_id)) return false;
    }
    // The server filtered these already; checked again so that a server
    // ignoring a filter cannot widen a delete.
    if (!s.group_ids.empty() && !contains(s.group_ids, g.snapshot_group_id)) return false;
    if (!s.states.empty() && !contains(s.states, g.state)) return false;
    if (s.older_than || s.newer_than) {
        const auto age_s = age_seconds(g.create_time, now);
        if (!age_s) return false;
        const auto age = std::chrono::seconds(*age_s);
        if (s.older_than && age < *s.older_than) return false;
        if (s.newer_than && age >= *s.newer_than) return false;
    }
    return true;
}

boost::asio::awaitable<std::vector<cbs::snapshot_group>> fetch_groups(cbs::client& c, const selection& s) {
    const auto now = std::chrono::system_clock::now();
    std::vector<cbs::snapshot_group> out;
    std::unordered_set<std::string> seen;
    for (auto req : server_requests(s)) {
        for (;;) {
            auto page = co_await c.async_invoke(req, cbs::as_result);
            if (page.ec) throw call_failed(failure_text("DescribeSnapshotGroups", page.ec, page.diag));
            auto& items = page.value.snapshot_group_set;
            std::size_t fresh = 0;
            for (auto& g : items) {
                if (!seen.insert(g.snapshot_group_id).second) continue;
                ++fresh;
                if (!matches(s, g, now)) continue;
                out.push_back(std::move(g));
                if (s.limit && out.size() >= s.limit) co_return out;
            }
            // Stop as cbs::async_describe_all does: TotalCount reached, an
            // empty page (TotalCount larger than what is returned) or a page
            // with nothing new (a server ignoring Offset).
            if (items.empty() || fresh == 0) break;
            req.offset += static_cast<std::int64_t>(items.size());
            if (static_cast<std::uint64_t>(req.offset) >= page.value.total_count) break;
        }
    }
    co_return out;
}

std::string instance_of(const std::string& name) {
    const auto parts = cbs::parse_fleet_group_name(name);
    return parts ? parts->instance_id : "-";
}

boost::json::object group_json(const cbs::snapshot_group& g) {
    boost::json::object o;
    o["group_id"] = g.snapshot_group_id;
    o["name"] = g.name;
    o["state"] = g.state;
    o["percent"] = g.percent;
    o["create_time"] = g.create_time;
    o["modify_time"] = g.modify_time;
    if (const auto age = age_seconds(g.create_time, std::chrono::system_clock::now()))
        o["age_seconds"] = *age;
    else
        o["age_seconds"] = nullptr;
    o["snapshot_count"] = static_cast<std::uint64_t>(g.snapshot_ids.size());
    boost::json::array ids;
    for (const auto& id : g.snapshot_ids) ids.emplace_back(id);
    o["snapshot_ids"] = std::move(ids);
    o["contain_root_snapshot"] = g.contain_root_snapshot;
    o["image_count"] = g.image_count;
    o["is_permanent"] = g.is_permanent;
    if (g.deadline_time.empty())
        o["deadline_time"] = nullptr;
    else
        o["deadline_time"] = g.deadline_time;
    // The fleet name's parts, or null when the name is not a fleet's.
    const auto parts = cbs::parse_fleet_group_name(g.name);
    for (const auto* key : {"prefix", "instance_id", "run_id"}) o[key] = nullptr;
    if (parts) {
        o["prefix"] = parts->prefix;
        o["instance_id"] = parts->instance_id;
        o["run_id"] = parts->run_id;
    }
    return o;
}

std::string failure_text(std::string_view action, const cbs::error_code& ec, const cbs::diagnostics& diag) {
    return std::string(action) + " failed: " + diag.to_string(ec);
}

int run_with_client(const connection_options& conn,
                    const std::function<boost::asio::awaitable<int>(cbs::client&)>& body) {
    auto params = make_client_params(conn);
    boost::asio::io_context io;
    auto client = make_client(io.get_executor(), std::move(params));
    int status = exit_failed;
    std::exception_ptr failure;
    boost::asio::co_spawn(io, body(client), [&](std::exception_ptr e, int s) {
        failure = std::move(e);
        status = s;
    });
    io.run();
    if (failure) std::rethrow_exception(failure);
    return status;
}

}  // namespace cbsctl::groups
