// cbs-async: DescribeDisks, DescribeSnapshotGroups, DeleteSnapshotGroup,
// DescribeSnapshots and ApplySnapshotGroup requests: validation and wire JSON. The responses are
// read in describe_responses.cpp.
#include <cbs/describe_actions.hpp>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <span>
#include <unordered_set>

namespace cbs {

namespace {

namespace json = boost::json;

bool lower_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool prefixed_id(std::string_view id, std::string_view prefix) noexcept {
    if (id.size() != prefix.size() + 8 || id.substr(0, prefix.size()) != prefix) return false;
    return std::all_of(id.begin() + static_cast<std::ptrdiff_t>(prefix.size()), id.end(), lower_alnum);
}

error_code invalid(diagnostics& diag, std::string what) {
    diag.client_message = std::move(what);
    return client_errc::invalid_request;
}

std::string join(std::span<const std::string_view> items) {
    std::string out;
    for (auto s : items) {
        if (!out.empty()) out += ", ";
        out += s;
    }
    return out;
}

/// A documented filter: its name, its value domain (empty: free-form) and the
/// documented maximum number of values (0: not documented).
struct filter_spec {
    std::string_view name;
    std::span<const std::string_view> domain{};
    std::size_t max_values = 0;
};

constexpr std::array<std::string_view, 2> disk_usages{"SYSTEM_DISK", "DATA_DISK"};
constexpr std::array<std::string_view, 8> disk_states{"UNATTACHED", "ATTACHING",   "ATTACHED",  "DETACHING",
                                                      "EXPANDING",  "ROLLBACKING", "TORECYCLE", "DUMPING"};
constexpr std::array<std::string_view, 3> group_states{"NORMAL", "CREATING", "ROLLBACKING"};
constexpr std::array<std::string_view, 6> snapshot_states{
    "NORMAL", "CREATING", "ROLLBACKING", "COPYING_FROM_REMOTE", "CHECKING_COPIED", "TORECYCLE"};
constexpr std::array<std::string_view, 2> snapshot_types{"SHARED_SNAPSHOT", "PRIVATE_SNAPSHOT"};
constexpr std::array<std::string_view, 2> order_fields{"CREATE_TIME", "DEADLINE"};
constexpr std::array<std::string_view, 2> orders{"ASC", "DESC"};

const std::array<filter_spec, 17> disk_filters{{
    {"disk-usage", disk_usages},
    {"disk-charge-type"},
    {"portable"},
    {"project-id"},
    {"disk-id"},
    {"disk-name"},
    {"disk-type"},
    {"disk-state", disk_states},
    {"instance-id"},
    {"zone"},
    {"instance-ip-address"},
    {"instance-name"},
    {"tag-key"},
    {"tag-value"},
    {"tag:<key>"},  // matched by prefix below
    {"dedicated-cluster-id"},
    {"cluster-group-id"},
}};

const std::array<filter_spec, 4> group_filters{{
    {"snapshot-group-id"},
    {"snapshot-group-name"},
    {"snapshot-group-state", group_states},
    {"snapshot-id"},
}};

const std::array<filter_spec, 8> snapshot_filters{{
    {"snapshot-id"},
    {"snapshot-name"},
    {"snapshot-state", snapshot_states},
    {"disk-usage", disk_usages},
    {"project-id"},
    {"disk-id", {}, 10},
    {"encrypt"},
    {"snapshot-type", snapshot_types},
}};

template <std::size_t N>
std::string spec_names(const std::array<filter_spec, N>& specs) {
    std::vector<std::string_view> names;
    names.reserve(N);
    for (const auto& s : specs) names.push_back(s.name);
    return join(names);
}

template <std::size_t N>
error_code check_filters(std::string_view action, const std::vector<filter>& filters,
                         const std::array<filter_spec, N>& specs, diagnostics& diag) {
    const std::string act(action);
    for (std::size_t i = 0; i < filters.size(); ++i) {
        const auto& f = filters[i];
        const std::string at = act + ": Filters[" + std::to_string(i) + "]";
        const filter_spec* spec = nullptr;
        for (const auto& s : specs) {
            if (s.name == "tag:<key>") {
                if (f.name.size() > 4 && f.name.compare(0, 4, "tag:") == 0) spec = &s;
            } else if (s.name == f.name) {
                spec = &s;
            }
        }
        if (!spec)
            return invalid(diag, std::string(at)
                                     .append(" has an unknown Name '")
                                     .append(f.name)
                                     .append("' (")
                                     .append(act)
                                     .append(" accepts ")
                                     .append(spec_names(specs))
                                     .append(")"));
        if (f.values.empty()) return invalid(diag, at + " (" + f.name + ") has no Values (at least one is required)");
        if (spec->max_values && f.values.size() > spec->max_values)
            return invalid(diag, at + " (" + f.name + ") has " + std::to_string(f.values.size()) + " Values (at most " +
                                     std::to_string(spec->max_values) + ")");
        if (spec->domain.empty()) continue;
        for (const auto& v : f.values)
            if (std::find(spec->domain.begin(), spec->domain.end(), v) == spec->domain.end())
                return invalid(diag, std::string(at)
                                         .append(" (")
                                         .append(f.name)
                                         .append(") has the value '")
                                         .append(v)
                                         .append("' (expected one of ")
                                         .append(join(spec->domain))
                                         .append(")"));
    }
    return {};
}

error_code check_page(std::string_view action, std::int64_t limit, std::int64_t offset, diagnostics& diag) {
    if (limit < 1 || limit > max_describe_limit)
        return invalid(diag, std::string(action) + ": Limit is " + std::to_string(limit) + " (must be 1.." +
                                 std::to_string(max_describe_limit) + ")");
    if (offset < 0)
        return invalid(diag, std::string(action) + ": Offset is " + std::to_string(offset) + " (must be >= 0)");
    return {};
}

error_code check_order(std::string_view action, const std::string& order_field, const std::string& order,
                       diagnostics& diag) {
    if (!order_field.empty() && std::find(order_fields.begin(), order_fields.end(), order_field) == order_fields.end())
        return invalid(
            diag, std::string(action) + ": OrderField is '" + order_field + "' (expected " + join(order_fields) + ")");
    if (!order.empty() && std::find(orders.begin(), orders.end(), order) == orders.end())
        return invalid(diag, std::string(action) + ": Order is '" + order + "' (expected " + join(orders) + ")");
    return {};
}

error_code check_ids(std::string_view action, std::string_view field, const std::vector<std::string>& ids,
                     bool (*well_formed)(std::string_view) noexcept, std::string_view expected, diagnostics& diag) {
    std::unordered_set<std::string_view> seen;
    for (const auto& id : ids) {
        if (!well_formed(id))
            return invalid(diag, std::string(action) + ": " + std::string(field) + " has a malformed id '" + id +
                                     "' (expected " + std::string(expected) + ")");
        if (!seen.insert(id).second)
            return invalid(diag, std::string(action) + ": " + std::string(field) + " lists '" + id + "' twice");
    }
    return {};
}

json::array to_array(const std::vector<std::string>& items) {
    json::array a;
    a.reserve(items.size());
    for (const auto& s : items) a.emplace_back(s);
    return a;
}

json::array to_json(const std::vector<filter>& filters) {
    json::array a;
    a.reserve(filters.size());
    for (const auto& f : filters) a.push_back(json::object{{"Name", f.name}, {"Values", to_array(f.values)}});
    return a;
}

void put_page(json::object& body, std::int64_t limit, std::int64_t offset) {
    body["Limit"] = limit;
    body["Offset"] = offset;
}

void put_order(json::object& body, const std::string& order_field, const std::string& order) {
    if (!order_field.empty()) body["OrderField"] = order_field;
    if (!order.empty()) body["Order"] = order;
}

}  // namespace

bool is_valid_snapshot_group_id(std::string_view id) noexcept {
    return prefixed_id(id, "csnap-");
}
bool is_valid_snapshot_id(std::string_view id) noexcept {
    return prefixed_id(id, "snap-");
}

// --- DescribeDisks ---------------------------------------------------------

error_code validate(const describe_disks_request& req, diagnostics& diag) {
    constexpr std::string_view act = describe_disks_request::action;
    if (auto ec = check_page(act, req.limit, req.offset, diag)) return ec;
    if (!req.disk_ids.empty() && !req.filters.empty())
        return invalid(diag, "DescribeDisks: DiskIds and Filters cannot be used together (set one of them)");
    if (auto ec =
            check_ids(act, "DiskIds", req.disk_ids, is_valid_disk_id, "disk- and 8 lower-case letters or digits", diag))
        return ec;
    if (auto ec = check_filters(act, req.filters, disk_filters, diag)) return ec;
    return check_order(act, req.order_field, req.order, diag);
}

json::object to_json(const describe_disks_request& req) {
    json::object body;
    if (!req.disk_ids.empty()) body["DiskIds"] = to_array(req.disk_ids);
    if (!req.filters.empty()) body["Filters"] = to_json(req.filters);
    put_page(body, req.limit, req.offset);
    put_order(body, req.order_field, req.order);
    if (req.return_bind_auto_snapshot_policy) body["ReturnBindAutoSnapshotPolicy"] = true;
    return body;
}

// --- DescribeSnapshotGroups ------------------------------------------------

error_code validate(const describe_snapshot_groups_request& req, diagnostics& diag) {
    constexpr std::string_view act = describe_snapshot_groups_request::action;
    if (auto ec = check_page(act, req.limit, req.offset, diag)) return ec;
    return check_filters(act, req.filters, group_filters, diag);
}

json::object to_json(const describe_snapshot_groups_request& req) {
    json::object body;
    if (!req.filters.empty()) body["Filters"] = to_json(req.filters);
    put_page(body, req.limit, req.offset);
    return body;
}

// --- DeleteSnapshotGroup ---------------------------------------------------

error_code validate(const delete_snapshot_group_request& req, diagnostics& diag) {
    if (req.snapshot_group_ids.empty())
        return invalid(diag, "DeleteSnapshotGroup: SnapshotGroupIds is empty (at least one group id is required)");
    return check_ids(delete_snapshot_group_request::action, "SnapshotGroupIds", req.snapshot_group_ids,
                     is_valid_snapshot_group_id, "csnap- and 8 lower-case letters or digits", diag);
}

json::object to_json(const delete_snapshot_group_request& req) {
    json::object body;
    body["SnapshotGroupIds"] = to_array(req.snapshot_group_ids);
    if (req.delete_bind_images) body["DeleteBindImages"] = true;
    return body;
}

// --- DescribeSnapshots -----------------------------------------------------

error_code validate(const describe_snapshots_request& req, diagnostics& diag) {
    constexpr std::string_view act = describe_snapshots_request::action;
    if (auto ec = check_page(act, req.limit, req.offset, diag)) return ec;
    if (!req.snapshot_ids.empty() && !req.filters.empty())
        return invalid(diag, "DescribeSnapshots: SnapshotIds and Filters cannot be used together (set one of them)");
    if (auto ec = check_ids(act, "SnapshotIds", req.snapshot_ids, is_valid_snapshot_id,
                            "snap- and 8 lower-case letters or digits", diag))
        return ec;
    if (auto ec = check_filters(act, req.filters, snapshot_filters, diag)) return ec;
    return check_order(act, req.order_field, req.order, diag);
}

json::object to_json(const describe_snapshots_request& req) {
    json::object body;
    if (!req.snapshot_ids.empty()) body["SnapshotIds"] = to_array(req.snapshot_ids);
    if (!req.filters.empty()) body["Filters"] = to_json(req.filters);
    put_page(body, req.limit, req.offset);
    put_order(body, req.order_field, req.order);
    return body;
}

// --- ApplySnapshotGroup ----------------------------------------------------

error_code validate(const apply_snapshot_group_request& req, diagnostics& diag) {
    if (req.snapshot_group_id.empty())
        return invalid(diag, "ApplySnapshotGroup: SnapshotGroupId is empty (the group to roll back is required)");
    if (!is_valid_snapshot_group_id(req.snapshot_group_id))
        return invalid(diag, "ApplySnapshotGroup: SnapshotGroupId has a malformed id '" + req.snapshot_group_id +
                                 "' (expected csnap- and 8 lower-case letters or digits)");
    if (req.apply_disks.empty())
        return invalid(diag, "ApplySnapshotGroup: ApplyDisks is empty (at least one {SnapshotId, DiskId} is required)");
    std::unordered_set<std::string_view> disks;
    for (std::size_t i = 0; i < req.apply_disks.size(); ++i) {
        const auto& p = req.apply_disks[i];
        const std::string at = "ApplySnapshotGroup: ApplyDisks[" + std::to_string(i) + "]";
        if (!is_valid_snapshot_id(p.snapshot_id))
            return invalid(diag, at + " has a malformed SnapshotId '" + p.snapshot_id +
                                     "' (expected snap- and 8 lower-case letters or digits)");
        if (!is_valid_disk_id(p.disk_id))
            return invalid(diag, at + " has a malformed DiskId '" + p.disk_id +
                                     "' (expected disk- and 8 lower-case letters or digits)");
        if (!disks.insert(p.disk_id).second)
            return invalid(diag, at + " lists the disk '" + p.disk_id + "' a second time (each disk once)");
    }
    return {};
}

json::object to_json(const apply_snapshot_group_request& req) {
    json::object body;
    body["SnapshotGroupId"] = req.snapshot_group_id;
    json::array disks;
    disks.reserve(req.apply_disks.size());
    for (const auto& p : req.apply_disks)
        disks.push_back(json::object{{"SnapshotId", p.snapshot_id}, {"DiskId", p.disk_id}});
    body["ApplyDisks"] = std::move(disks);
    if (req.auto_stop_instance) body["AutoStopInstance"] = true;
    if (req.auto_start_instance) body["AutoStartInstance"] = true;
    return body;
}

}  // namespace cbs
