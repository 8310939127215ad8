// cbs-async emulator: DescribeSnapshots (the member snapshots of groups).
#include "fleet_detail.hpp"

namespace cbs::emu::detail {

namespace {

// Documented DescribeSnapshots filters this emulator does not implement.
const std::unordered_set<std::string_view> unsupported_snapshot_filters{"disk-usage", "project-id", "encrypt",
                                                                        "snapshot-type"};
const std::unordered_set<std::string_view> snapshot_states{
    "NORMAL", "CREATING", "ROLLBACKING", "COPYING_FROM_REMOTE", "CHECKING_COPIED", "TORECYCLE"};

}  // namespace

json::object fleet_impl::describe_snapshots(const json::object& params, clock::time_point now) {
    check_known(params, {"SnapshotIds", "Filters", "Offset", "Limit", "OrderField", "Order"});
    const auto snapshot_ids = get_string_array(params, "SnapshotIds");
    const auto filters = get_filters(params);
    if (snapshot_ids && filters)
        fail("InvalidParameterValue",
             "The parameters `Filters` and `SnapshotIds` cannot be specified at the same time.");
    const auto order_field = get_string(params, "OrderField");
    if (order_field && *order_field != "CREATE_TIME" && *order_field != "DEADLINE")
        fail("InvalidParameterValue", "The parameter `OrderField` must be CREATE_TIME or DEADLINE.");
    const auto order = get_string(params, "Order");
    if (order && *order != "ASC" && *order != "DESC")
        fail("InvalidParameterValue", "The parameter `Order` must be ASC or DESC.");
    const page pg = get_page(params, "InvalidParameterValue");

    std::vector<std::uint64_t> candidates;
    bool all = true;
    if (snapshot_ids) {
        all = false;
        for (const auto& id : *snapshot_ids) {
            if (!well_formed_id(id, "snap-"))
                fail("InvalidParameterValue", "The snapshot id `" + id + "` in `SnapshotIds` is malformed.");
            if (auto it = snapshot_by_id.find(id); it != snapshot_by_id.end()) candidates.push_back(it->second);
        }
    } else if (filters) {
        for (std::size_t i = 0; i < filters->size(); ++i) {
            const auto& f = (*filters)[i];
            const std::string where = " (Filters." + std::to_string(i) + ")";
            std::vector<std::uint64_t> from_this;
            if (f.name == "snapshot-id") {
                for (const auto& v : f.values)
                    if (auto it = snapshot_by_id.find(v); it != snapshot_by_id.end()) from_this.push_back(it->second);
            } else if (f.name == "disk-id") {
                if (f.values.size() > 10)  // documented: at most 10 disk ids
                    fail("InvalidParameterValue", "The filter `disk-id`" + where + " takes at most 10 values.");
                for (const auto& v : f.values)
                    if (auto it = snapshots_by_disk.find(v); it != snapshots_by_disk.end())
                        from_this.insert(from_this.end(), it->second.begin(), it->second.end());
            } else if (f.name == "snapshot-state") {
                for (const auto& v : f.values)
                    if (!snapshot_states.count(v))
                        fail("InvalidParameterValue", std::string("The value `")
                                                          .append(v)
                                                          .append("` of filter `snapshot-state`")
                                                          .append(where)
                                                          .append(" is not a snapshot state."));
                continue;
            } else if (f.name == "snapshot-name") {
                continue;
            } else if (unsupported_snapshot_filters.count(f.name)) {
                fail("InvalidFilter", "The filter `" + f.name + "` is not supported by the CBS emulator.");
            } else {
                fail("InvalidFilter", "The filter `" + f.name + "` is not valid for DescribeSnapshots.");
            }
            if (all || from_this.size() < candidates.size()) candidates = std::move(from_this);
            all = false;
        }
    }
    if (all) {
        candidates.reserve(snapshots.size());
        for (const auto& kv : snapshots) candidates.push_back(kv.first);
    } else {
        sort_unique(candidates);  // creation order
    }

    static const std::vector<filter> no_filters;
    const auto& all_filters = filters ? *filters : no_filters;
    std::vector<const snapshot*> matched;
    for (auto seq : candidates) {
        const snapshot& s = snapshots.at(seq);
        if (!listed(s, now)) continue;  // listing lag, as for its group
        const std::string state = snapshot_state(s, now);
        bool ok = true;
        for (const auto& f : all_filters) {
            if (f.name == "snapshot-id")
                ok = f.matches(s.id);
            else if (f.name == "disk-id")
                ok = f.matches(s.disk_id);
            else if (f.name == "snapshot-state")
                ok = f.matches(state);
            else if (f.name == "snapshot-name")
                ok = f.matches(s.name);
            if (!ok) break;
        }
        if (ok) matched.push_back(&s);
    }
    // Creation order is CREATE_TIME order; DEADLINE: all permanent. DESC reverses.
    if (order && *order == "DESC") std::reverse(matched.begin(), matched.end());

    json::array set;
    for (const snapshot* s : slice(matched, pg)) {
        const disk* d = find_disk(s->disk_id);
        json::object j;
        j["SnapshotId"] = s->id;
        j["SnapshotName"] = s->name;
        j["SnapshotState"] = snapshot_state(*s, now);
        j["Percent"] = percent(groups.at(group_by_id.at(s->group_id)), now);
        j["DiskId"] = s->disk_id;
        j["DiskUsage"] = d ? d->usage : "DATA_DISK";
        j["DiskSize"] = d ? d->size_gib : 0;
        j["Encrypt"] = d ? d->encrypt : false;
        j["CreateTime"] = wall_time(s->created);
        j["SnapshotType"] = "PRIVATE_SNAPSHOT";
        j["Placement"] = json::object{{"Zone", d ? d->zone : cfg.region}, {"ProjectId", 0}};
        j["IsPermanent"] = true;
        j["DeadlineTime"] = nullptr;
        j["CopyFromRemote"] = false;
        j["Images"] = json::array{};
        j["ImageCount"] = 0;
        set.push_back(std::move(j));
    }
    return json::object{{"TotalCount", static_cast<std::int64_t>(matched.size())}, {"SnapshotSet", std::move(set)}};
}

}  // namespace cbs::emu::detail
