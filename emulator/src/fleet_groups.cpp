// cbs-async emulator: CreateSnapshotGroup, DescribeSnapshotGroups, DeleteSnapshotGroup.
#include "fleet_detail.hpp"

namespace cbs::emu::detail {

namespace {

std::vector<tag> read_tags(const json::object& params) {
    std::vector<tag> out;
    auto it = params.find("Tags");
    if (it == params.end()) return out;
    if (!it->value().is_array())
        fail("InvalidParameter", "The value type of parameter `Tags` is not valid, expected Array of Tag.");
    std::size_t i = 0;
    for (const auto& e : it->value().get_array()) {
        const std::string path = "Tags." + std::to_string(i++);
        if (!e.is_object())
            fail("InvalidParameter", "The value type of parameter `" + path + "` is not valid, expected Tag.");
        const auto& obj = e.get_object();
        for (const auto& kv : obj)
            if (kv.key() != "Key" && kv.key() != "Value")
                fail("UnknownParameter",
                     "The parameter `" + path + "." + std::string(kv.key()) + "` is not recognized.");
        // Tag.Key and Tag.Value are both required in the Tag model.
        auto key = get_string(obj, "Key");
        if (!key) fail("MissingParameter", "The request is missing a required parameter `" + path + ".Key`.");
        auto value = get_string(obj, "Value");
        if (!value) fail("MissingParameter", "The request is missing a required parameter `" + path + ".Value`.");
        if (key->empty()) fail("InvalidParameterValue", "The parameter `" + path + ".Key` must not be empty.");
        out.push_back(tag{*key, *value});
    }
    return out;
}

}  // namespace

json::object fleet_impl::create_snapshot_group(const json::object& params, clock::time_point now) {
    check_known(params, {"DiskIds", "SnapshotGroupName", "Tags"});
    const auto ids = get_string_array(params, "DiskIds");
    const auto name_param = get_string(params, "SnapshotGroupName");
    const auto tags = read_tags(params);
    // An empty DiskIds is "missing": in the form/GET encoding an empty
    // DiskIds.N is indistinguishable from an absent one.
    if (!ids || ids->empty()) fail("MissingParameter", "The request is missing a required parameter `DiskIds`.");
    if (ids->size() > max_disk_ids)
        fail("InvalidParameterValue", "The parameter `DiskIds` takes at most " + std::to_string(max_disk_ids) +
                                          " disk ids, got " + std::to_string(ids->size()) + ".");

    std::unordered_set<std::string> seen;
    for (const auto& id : *ids) {
        if (!well_formed_id(id, "disk-"))
            fail("InvalidParameterValue", "The disk id `" + id + "` in `DiskIds` is malformed.");
        if (!seen.insert(id).second)
            fail("InvalidParameterValue", "The disk `" + id + "` is listed more than once in `DiskIds`.");
    }
    std::vector<disk*> members;
    for (const auto& id : *ids) {
        auto it = disk_by_id.find(id);
        if (it == disk_by_id.end()) fail("InvalidDiskId.NotFound", "The disk `" + id + "` does not exist.");
        members.push_back(&disks[it->second]);
    }
    // "The disks must be mounted on the same instance." CreateSnapshotGroup's
    // documented codes have nothing specific for this
    // (UnsupportedOperation.SnapshotGroupDiskAttachMultiInstance is documented
    // for ApplySnapshotGroup only), so: InvalidParameterValue, the closest
    // documented code for a DiskIds value the action can't take.
    const std::string& instance = members.front()->instance_id;
    for (const disk* d : members) {
        if (d->instance_id.empty())
            fail("InvalidParameterValue", "The disk `" + d->id + "` is not attached to an instance.");
        if (d->instance_id != instance)
            fail("InvalidParameterValue", "The disks in `DiskIds` must be attached to the same instance: `" +
                                              members.front()->id + "` is on `" + instance + "`, `" + d->id +
                                              "` is on `" + d->instance_id + "`.");
    }
    for (const disk* d : members)
        if (!d->snapshot_ability)
            fail("InvalidDisk.NotSupported", "The disk `" + d->id + "` does not support snapshots.");
    for (const disk* d : members) {
        // A disk being attached or detached can't be snapshotted meanwhile;
        // the action's documented code for a busy resource is ResourceInUse.
        if (d->state == "ATTACHING" || d->state == "DETACHING")
            fail("ResourceInUse", "The disk `" + d->id + "` is " +
                                      (d->state == "ATTACHING" ? "being attached" : "being detached") +
                                      ", please try again later.");
        if (d->migrating) fail("ResourceInUse.DiskMigrating", "The disk `" + d->id + "` is being migrated.");
        if (d->rollbacking) fail("ResourceInUse.DiskRollbacking", "The disk `" + d->id + "` is rolling back.");
    }
    for (const disk* d : members)
        if (now < d->busy_until)
            fail("InvalidDisk.SnapshotCreating",
                 "A snapshot is being created for the disk `" + d->id + "`, please try again later.");
    if (cfg.snapshot_quota != 0 && snapshots.size() + members.size() > cfg.snapshot_quota)
        fail("InsufficientSnapshotQuota", "The snapshot quota of region `" + cfg.region + "` is " +
                                              std::to_string(cfg.snapshot_quota) +
                                              " snapshots: " + std::to_string(snapshots.size()) + " are held and " +
                                              std::to_string(members.size()) + " more were asked for.");

    // All checks passed: commit.
    group g;
    g.seq = next_seq++;
    g.id = new_id("csnap-");
    // SnapshotGroupName is optional and documented with no default: a group
    // without one has an empty name (a placeholder such as "Unnamed" would
    // make a later look-up by name find unrelated groups). Duplicate names
    // are allowed, as in the service.
    g.name = name_param.value_or("");
    g.instance_id = instance;
    g.tags = tags;
    draw_timeline(g, now);
    for (std::size_t i = 0; i < members.size(); ++i) {
        disk& d = *members[i];
        snapshot s;
        s.seq = next_seq++;
        s.id = new_id("snap-");
        s.name = g.name + "_" + std::to_string(i);  // in DiskIds order, as documented
        s.disk_id = d.id;
        s.group_id = g.id;
        s.created = g.created;
        s.ready_at = g.ready_at;
        g.disk_ids.push_back(d.id);
        g.snapshot_ids.push_back(s.id);
        g.contains_root = g.contains_root || d.usage == "SYSTEM_DISK";
        ++d.snapshot_count;
        if (g.ready_at > d.busy_until) d.busy_until = g.ready_at;
        snapshot_by_id.emplace(s.id, s.seq);
        snapshots_by_disk[d.id].insert(s.seq);
        snapshots.emplace(s.seq, std::move(s));
    }
    group_by_id.emplace(g.id, g.seq);
    groups_by_name[g.name].insert(g.seq);
    std::string id = g.id;
    groups.emplace(g.seq, std::move(g));
    return json::object{{"SnapshotGroupId", id}};
}

json::object fleet_impl::describe_snapshot_groups(const json::object& params, clock::time_point now) {
    check_known(params, {"Filters", "Offset", "Limit"});
    const auto filters = get_filters(params);
    // DescribeSnapshotGroups documents only InvalidFilter and InvalidParameter,
    // so bad values (Limit out of range, unknown state) are InvalidParameter here.
    const page pg = get_page(params, "InvalidParameter");

    std::vector<std::uint64_t> candidates;
    bool all = true;
    if (filters) {
        for (std::size_t i = 0; i < filters->size(); ++i) {
            const auto& f = (*filters)[i];
            std::vector<std::uint64_t> from_this;
            if (f.name == "snapshot-group-id") {
                for (const auto& v : f.values)
                    if (auto it = group_by_id.find(v); it != group_by_id.end()) from_this.push_back(it->second);
            } else if (f.name == "snapshot-group-name") {
                for (const auto& v : f.values)
                    if (auto it = groups_by_name.find(v); it != groups_by_name.end())
                        from_this.insert(from_this.end(), it->second.begin(), it->second.end());
            } else if (f.name == "snapshot-id") {
                for (const auto& v : f.values)
                    if (auto it = snapshot_by_id.find(v); it != snapshot_by_id.end())
                        from_this.push_back(group_by_id.at(snapshots.at(it->second).group_id));
            } else if (f.name == "snapshot-group-state") {
                for (const auto& v : f.values)
                    if (v != "NORMAL" && v != "CREATING" && v != "ROLLBACKING" && v != "FAILED")
                        fail("InvalidParameter", "The value `" + v + "` of filter `snapshot-group-state` (Filters." +
                                                     std::to_string(i) +
                                                     ") must be NORMAL, CREATING, FAILED or ROLLBACKING.");
                continue;  // not indexed: checked per candidate below
            } else {
                fail("InvalidFilter", "The filter `" + f.name + "` is not valid for DescribeSnapshotGroups.");
            }
            if (all || from_this.size() < candidates.size()) candidates = std::move(from_this);
            all = false;
        }
    }
    if (all) {
        candidates.reserve(groups.size());
        for (const auto& kv : groups) candidates.push_back(kv.first);
    } else {
        sort_unique(candidates);  // creation order
    }

    static const std::vector<filter> no_filters;
    const auto& all_filters = filters ? *filters : no_filters;
    std::vector<const group*> matched;
    for (auto seq : candidates) {
        const group& g = groups.at(seq);
        if (!listed(g, now)) continue;  // listing lag: exists, not yet listed
        const std::string state = group_state(g, now);
        bool ok = true;
        for (const auto& f : all_filters) {
            if (f.name == "snapshot-group-id")
                ok = f.matches(g.id);
            else if (f.name == "snapshot-group-name")
                ok = f.matches(g.name);
            else if (f.name == "snapshot-group-state")
                ok = f.matches(state);
            else if (f.name == "snapshot-id")
                ok = std::any_of(g.snapshot_ids.begin(), g.snapshot_ids.end(),
                                 [&](const auto& s) { return f.matches(s); });
            if (!ok) break;
        }
        if (ok) matched.push_back(&g);
    }

    json::array set;
    for (const group* g : slice(matched, pg)) {
        const bool is_creating = creating(*g, now);
        json::array snap_ids;
        for (const auto& s : g->snapshot_ids) snap_ids.emplace_back(s);
        json::object j;
        j["SnapshotGroupId"] = g->id;
        j["SnapshotGroupType"] = "NORMAL";
        j["ContainRootSnapshot"] = g->contains_root;
        j["SnapshotIdSet"] = std::move(snap_ids);
        j["SnapshotGroupState"] = group_state(*g, now);
        j["Percent"] = percent(*g, now);
        j["CreateTime"] = wall_time(g->created);
        j["ModifyTime"] = wall_time(is_creating ? g->created : g->ready_at);
        j["Images"] = json::array{};
        j["SnapshotGroupName"] = g->name;
        j["ImageCount"] = 0;
        j["IsPermanent"] = true;
        j["DeadlineTime"] = nullptr;
        j["AutoSnapshotPolicyId"] = nullptr;
        set.push_back(std::move(j));
    }
    return json::object{{"TotalCount", static_cast<std::int64_t>(matched.size())},
                        {"SnapshotGroupSet", std::move(set)}};
}

json::object fleet_impl::delete_snapshot_group(const json::object& params, clock::time_point now) {
    check_known(params, {"SnapshotGroupId", "SnapshotGroupIds", "DeleteBindImages"});
    const auto one = get_string(params, "SnapshotGroupId");
    const auto many = get_string_array(params, "SnapshotGroupIds");
    (void)get_bool(params, "DeleteBindImages");  // type-checked; emulated groups never have images
    std::vector<std::string> ids;
    if (one) ids.push_back(*one);
    if (many) ids.insert(ids.end(), many->begin(), many->end());
    if (ids.empty())
        fail("MissingParameter",
             "The request is missing a required parameter `SnapshotGroupId` or `SnapshotGroupIds`.");

    // Check every id before deleting anything: the call is all-or-nothing.
    std::vector<std::uint64_t> seqs;
    for (const auto& id : ids) {
        if (!well_formed_id(id, "csnap-")) fail("InvalidParameter", "The snapshot group id `" + id + "` is malformed.");
        auto it = group_by_id.find(id);
        if (it == group_by_id.end())
            fail("InvalidSnapshotId.NotFound", "The snapshot group `" + id + "` does not exist.");
        // A group still being created can't be deleted (its snapshots can't
        // be deleted while CREATING either): the action's documented
        // UnsupportedOperation.StateError, and nothing changes. The caller
        // waits until it is NORMAL or FAILED.
        if (creating(groups.at(it->second), now))
            fail("UnsupportedOperation.StateError",
                 "The snapshot group `" + id + "` is being created and cannot be deleted.");
        // Nor while its snapshots are being applied (ApplySnapshotGroup).
        if (rolling_back(groups.at(it->second), now))
            fail("UnsupportedOperation.StateError",
                 "The snapshot group `" + id + "` is rolling back and cannot be deleted.");
        seqs.push_back(it->second);
    }
    sort_unique(seqs);  // the same id twice deletes it once

    for (auto seq : seqs) {
        auto git = groups.find(seq);
        group& g = git->second;
        drop_snapshots(g);
        auto& by_name = groups_by_name[g.name];
        by_name.erase(seq);
        if (by_name.empty()) groups_by_name.erase(g.name);
        group_by_id.erase(g.id);
        groups.erase(git);
    }
    return json::object{};
}

}  // namespace cbs::emu::detail
