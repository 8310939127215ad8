// cbs-async emulator: DescribeDisks.
#include "fleet_detail.hpp"

namespace cbs::emu::detail {

namespace {

// Documented DescribeDisks filters this emulator does not implement: they are
// answered with InvalidFilter (saying so) rather than silently ignored, which
// would return the wrong disks.
const std::unordered_set<std::string_view> unsupported_disk_filters{
    "disk-charge-type", "portable", "project-id", "disk-name", "disk-type", "zone",
    "instance-ip-address", "instance-name", "tag-key", "tag-value", "dedicated-cluster-id", "cluster-group-id"};

const std::unordered_set<std::string_view> disk_states{"UNATTACHED", "ATTACHING", "ATTACHED", "DETACHING",
                                                       "EXPANDING", "ROLLBACKING", "TORECYCLE", "DUMPING"};

void check_disk_filters(const std::vector<filter>& filters) {
    for (std::size_t i = 0; i < filters.size(); ++i) {
        const auto& f = filters[i];
        if (f.name == "instance-id" || f.name == "disk-id") continue;
        if (f.name == "disk-usage") {
            for (const auto& v : f.values)
                if (v != "SYSTEM_DISK" && v != "DATA_DISK")
                    fail("InvalidParameterValue", "The value `" + v + "` of filter `disk-usage` (Filters." +
                                                      std::to_string(i) + ") must be SYSTEM_DISK or DATA_DISK.");
            continue;
        }
        if (f.name == "disk-state") {
            for (const auto& v : f.values)
                if (!disk_states.count(v))
                    fail("InvalidParameterValue", "The value `" + v + "` of filter `disk-state` (Filters." +
                                                      std::to_string(i) + ") is not a disk state.");
            continue;
        }
        if (unsupported_disk_filters.count(f.name) || f.name.rfind("tag:", 0) == 0)
            fail("InvalidFilter", "The filter `" + f.name + "` is not supported by the CBS emulator.");
        fail("InvalidFilter", "The filter `" + f.name + "` is not valid for DescribeDisks.");
    }
}

bool disk_matches(const disk& d, const std::vector<filter>& filters) {
    for (const auto& f : filters) {
        const std::string* field = nullptr;
        if (f.name == "instance-id") field = &d.instance_id;
        else if (f.name == "disk-id") field = &d.id;
        else if (f.name == "disk-state") field = &d.state;
        else if (f.name == "disk-usage") field = &d.usage;
        if (field && !f.matches(*field)) return false;  // AND across filters, OR within Values
    }
    return true;
}

}  // namespace

json::object fleet_impl::describe_disks(const json::object& params, clock::time_point /*now*/) {
    check_known(params, {"DiskIds", "Filters", "Limit", "Offset", "OrderField", "Order", "ReturnBindAutoSnapshotPolicy"});
    const auto disk_ids = get_string_array(params, "DiskIds");
    const auto filters = get_filters(params);
    // DescribeDisks documents InvalidFilter, InvalidParameterValue,
    // MissingParameter and UnsupportedOperation; the value conflict is the
    // closest (InvalidParameter is left for malformed JSON types).
    if (disk_ids && filters)
        fail("InvalidParameterValue", "The parameters `Filters` and `DiskIds` cannot be specified at the same time.");
    const auto order_field = get_string(params, "OrderField");
    if (order_field && *order_field != "CREATE_TIME" && *order_field != "DEADLINE")
        fail("InvalidParameterValue", "The parameter `OrderField` must be CREATE_TIME or DEADLINE.");
    const auto order = get_string(params, "Order");
    if (order && *order != "ASC" && *order != "DESC")
        fail("InvalidParameterValue", "The parameter `Order` must be ASC or DESC.");
    const bool with_policies = get_bool(params, "ReturnBindAutoSnapshotPolicy").value_or(false);
    const page pg = get_page(params, "InvalidParameterValue");

    // Candidates from the indexes, never a scan per filter value: an
    // instance-id filter of 100 ids on a 10k-instance fleet costs 100 lookups.
    std::vector<std::size_t> candidates;
    bool all = true;
    if (disk_ids) {
        all = false;
        for (const auto& id : *disk_ids) {
            if (!well_formed_id(id, "disk-"))
                fail("InvalidParameterValue", "The disk id `" + id + "` in `DiskIds` is malformed.");
            // An id that doesn't exist is simply not returned, as the service does.
            if (auto it = disk_by_id.find(id); it != disk_by_id.end()) candidates.push_back(it->second);
        }
    } else if (filters) {
        check_disk_filters(*filters);
        for (const auto& f : *filters) {
            if (f.name != "instance-id" && f.name != "disk-id") continue;
            std::vector<std::size_t> from_this;
            for (const auto& v : f.values) {
                if (f.name == "instance-id") {
                    // "" would select the unattached disks through the index; it names no instance.
                    if (v.empty()) continue;
                    if (auto it = disks_by_instance.find(v); it != disks_by_instance.end())
                        from_this.insert(from_this.end(), it->second.begin(), it->second.end());
                } else if (auto it = disk_by_id.find(v); it != disk_by_id.end()) {
                    from_this.push_back(it->second);
                }
            }
            if (all || from_this.size() < candidates.size()) candidates = std::move(from_this);
            all = false;
        }
    }
    if (all) {
        candidates.resize(disks.size());
        for (std::size_t i = 0; i < disks.size(); ++i) candidates[i] = i;
    } else {
        sort_unique(candidates);  // fleet order, each disk once
    }
    std::vector<std::size_t> matched;
    matched.reserve(candidates.size());
    for (auto o : candidates)
        if (!filters || disk_matches(disks[o], *filters)) matched.push_back(o);

    if (order_field && *order_field == "CREATE_TIME")
        std::stable_sort(matched.begin(), matched.end(),
                         [&](std::size_t a, std::size_t b) { return disks[a].age_seconds > disks[b].age_seconds; });
    // DEADLINE: every emulated disk is pay-as-you-go without a deadline, so it
    // keeps fleet order. DESC reverses whichever order applies.
    if (order && *order == "DESC") std::reverse(matched.begin(), matched.end());

    json::array set;
    for (auto o : slice(matched, pg)) {
        const disk& d = disks[o];
        json::object j;
        j["DiskId"] = d.id;
        j["DiskName"] = d.name;
        j["DiskUsage"] = d.usage;
        j["DiskType"] = d.type;
        j["DiskState"] = d.state;
        j["DiskChargeType"] = "POSTPAID_BY_HOUR";
        j["Attached"] = !d.instance_id.empty();
        j["InstanceId"] = d.instance_id;
        j["InstanceType"] = "CVM";
        j["InstanceIdList"] = d.instance_id.empty() ? json::array{} : json::array{json::value(d.instance_id)};
        j["SnapshotAbility"] = d.snapshot_ability;
        j["Migrating"] = d.migrating;
        j["MigratePercent"] = d.migrate_percent;
        j["Rollbacking"] = d.rollbacking;
        j["RollbackPercent"] = d.rollback_percent;
        j["Portable"] = d.usage == "DATA_DISK";
        j["Shareable"] = false;
        j["Encrypt"] = d.encrypt;
        j["DiskSize"] = d.size_gib;
        j["Placement"] = json::object{{"Zone", d.zone}, {"ProjectId", 0}};
        j["SnapshotCount"] = static_cast<std::int64_t>(d.snapshot_count);  // int64, as parsed JSON would be
        j["CreateTime"] = disk_create_time(d);
        j["Tags"] = json::array{};
        j["DeadlineTime"] = nullptr;  // nullable in the API; pay-as-you-go disks have none
        if (with_policies) j["AutoSnapshotPolicyIds"] = json::array{};
        set.push_back(std::move(j));
    }
    return json::object{{"TotalCount", static_cast<std::int64_t>(matched.size())}, {"DiskSet", std::move(set)}};
}

}  // namespace cbs::emu::detail
