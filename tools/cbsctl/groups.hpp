// cbsctl groups list|show|delete: what the three share (internal to cbsctl).
// The selection options, fetching every page of DescribeSnapshotGroups with
// the selection applied, the service's CreateTime, and running a coroutine
// on a client.
#pragma once

#include "cli.hpp"

#include <cbs/describe_actions.hpp>
#include <cbs/fleet_names.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cbsctl::groups {

/// A call that failed (the message names the action, code and RequestId):
/// printed as "cbsctl: <message>", exit 1.
struct call_failed : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Which groups a list or delete is about. Server-side filters are sent
/// where the service can apply them exactly (ids, state, a full fleet name);
/// the rest is matched here on every page.
struct selection {
    std::vector<std::string> group_ids;  ///< --group-id / delete's ID arguments (server: snapshot-group-id)
    std::string run_id;                  ///< --run-id (client side: the name's run id)
    std::string name_prefix;             ///< --name-prefix (client side: "<prefix>-ins-...")
    std::vector<std::string> instances;  ///< --instance, repeatable (client side: the name's instance id)
    std::vector<std::string> states;     ///< --state, repeatable (server: snapshot-group-state)
    std::optional<std::chrono::milliseconds> older_than;  ///< --older-than: CreateTime before now - this
    std::optional<std::chrono::milliseconds> newer_than;  ///< --newer-than: CreateTime after now - this
    std::size_t limit = 0;                                ///< --limit: stop after this many matches (0: all)

    /// True when a fleet-name filter (run id, prefix, instance) is set: only
    /// names that parse as `<prefix>-<instance-id>-<run-id>` can match.
    bool by_fleet_name() const { return !run_id.empty() || !name_prefix.empty() || !instances.empty(); }
};

/// Registers --run-id, --name-prefix, --instance, --older-than and, unless
/// `for_delete`, --newer-than, --state, --group-id and --limit on `cmd`.
void add_selection_options(CLI::App& cmd, selection& s, bool for_delete);

/// Checks the values (usage_error naming the option): run id and instance id
/// shapes, known states, well-formed group ids.
void check_selection(const selection& s);

/// The DescribeSnapshotGroups requests that cover `s` (Limit 100, Offset 0):
/// one per 100 group ids, else one; with the state and, when run id, prefix
/// and instances are all given, the exact names as server-side filters.
std::vector<cbs::describe_snapshot_groups_request> server_requests(const selection& s);

/// The seconds from `create_time` to `now` (negative if in the future);
/// nullopt when CreateTime cannot be read. CreateTime is read as retention
/// reads it (cbs::parse_create_time): "YYYY-MM-DD hh:mm:ss" in the service's
/// local time, Beijing time (UTC+8, as the emulator sends it too), or ISO
/// 8601 with a zone, so list, delete and prune agree on every age.
std::optional<std::int64_t> age_seconds(std::string_view create_time, std::chrono::system_clock::time_point now);

/// True when `g` passes the client-side part of `s` at `now`. A group whose
/// CreateTime cannot be read never passes an age filter (deleting by age
/// must not guess).
bool matches(const selection& s, const cbs::snapshot_group& g, std::chrono::system_clock::time_point now);

/// Every group matching `s`, in the service's order, at most s.limit: pages
/// of 100 until TotalCount is reached, a page is empty or brings nothing new;
/// duplicates (the set may shift between pages) dropped. Throws call_failed.
boost::asio::awaitable<std::vector<cbs::snapshot_group>> fetch_groups(cbs::client& c, const selection& s);

/// The instance id in a fleet group name, "-" when it is not one.
std::string instance_of(const std::string& name);

/// The JSON object of one group: snake_case keys, integer numbers only.
boost::json::object group_json(const cbs::snapshot_group& g);

/// Builds the client from `conn` (a bad configuration is a usage_error),
/// runs `body` on it to completion and returns its status; exceptions
/// thrown by `body` are rethrown here.
int run_with_client(const connection_options& conn,
                    const std::function<boost::asio::awaitable<int>(cbs::client&)>& body);

/// "DescribeSnapshotGroups failed: <code, message, RequestId>".
std::string failure_text(std::string_view action, const cbs::error_code& ec, const cbs::diagnostics& diag);

/// groups delete: registered by add_groups_command (groups_delete.cpp).
command_runner add_delete_command(CLI::App& groups);

}  // namespace cbsctl::groups
