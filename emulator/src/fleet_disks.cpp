// cbs-async emulator: DescribeDisks.
#include "fleet_detail.hpp"

namespace cbs::emu::detail {

namespace {

const std::unordered_set<std::string_view> disk_states{"UNATTACHED", "ATTACHING",   "ATTACHED",  "DETACHING",
                                                       "EXPANDING",  "ROLLBACKING", "TORECYCLE", "DUMPING"};
const std::unordered_set<std::string_view> charge_types{"PREPAID", "POSTPAID_BY_HOUR", "CDCPAID",
                                                        "DEDICATED_CLUSTER_PAID"};
const std::unordered_set<std::string_view> disk_types{"CLOUD_BASIC", "CLOUD_PREMIUM", "CLOUD_BSSD",
                                                      "CLOUD_SSD",   "CLOUD_HSSD",    "CLOUD_TSSD"};
const std::unordered_set<std::string_view> usages{"SYSTEM_DISK", "DATA_DISK"};
const std::unordered_set<std::string_view> booleans{"TRUE", "FALSE"};

// Filters whose values are free text (names, ids, zones, tags).
const std::unordered_set<std::string_view> free_filters{"instance-id",
                                                        "disk-id",
                                                        "disk-name",
                                                        "zone",
                                                        "instance-name",
                                                        "instance-ip-address",
                                                        "tag-key",
                                                        "tag-value",
                                                        "dedicated-cluster-id",
                                                        "cluster-group-id"};

bool is_tag_filter(const std::string& name) {
    return name.rfind("tag:", 0) == 0;
}

bool decimal(const std::string& v) {
    return !v.empty() && v.size() <= 18 && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
}

[[noreturn]] void bad_value(const std::string& value, const std::string& filter_name, const std::string& where,
                            const char* what) {
    std::string m = "The value `";
    m.append(value).append("` of filter `").append(filter_name).append("`").append(where);
    m.append(" is not ").append(what).append(".");
    fail("InvalidParameterValue", std::move(m));
}

// Every documented filter; values checked where the documentation gives a
// set (InvalidParameterValue naming the filter); any other name InvalidFilter.
void check_disk_filters(const std::vector<filter>& filters) {
    for (std::size_t i = 0; i < filters.size(); ++i) {
        const auto& f = filters[i];
        const std::string where = " (Filters." + std::to_string(i) + ")";
        auto check_set = [&](const std::unordered_set<std::string_view>& allowed, const char* what) {
            for (const auto& v : f.values)
                if (!allowed.count(v)) bad_value(v, f.name, where, what);
        };
        if (free_filters.count(f.name)) continue;
        if (is_tag_filter(f.name)) {
            if (f.name.size() == 4) fail("InvalidFilter", "The filter `tag:`" + where + " names no tag key.");
            continue;
        }
        if (f.name == "disk-usage")
            check_set(usages, "SYSTEM_DISK or DATA_DISK");
        else if (f.name == "disk-state")
            check_set(disk_states, "a disk state");
        else if (f.name == "disk-charge-type")
            check_set(charge_types, "a disk charge type");
        else if (f.name == "disk-type")
            check_set(disk_types, "a disk type");
        else if (f.name == "portable")
            check_set(booleans, "TRUE or FALSE");
        else if (f.name == "project-id") {
            for (const auto& v : f.values)
                if (!decimal(v)) bad_value(v, f.name, where, "a project id");
        } else {
            fail("InvalidFilter", "The filter `" + f.name + "` is not valid for DescribeDisks.");
        }
    }
}

bool has_tag(const disk& d, const filter& f, bool by_key, bool by_value) {
    return std::any_of(d.tags.begin(), d.tags.end(),
                       [&](const tag& t) { return (by_key && f.matches(t.key)) || (by_value && f.matches(t.value)); });
}

}  // namespace

// AND across filters, OR within a filter's Values.
bool fleet_impl::disk_matches(const disk& d, const std::vector<filter>& filters) const {
    // The instance is looked up only for the two filters that need it.
    auto instance = [&]() -> const instance_info* {
        auto it = instance_by_id.find(d.instance_id);
        return it == instance_by_id.end() ? nullptr : &it->second;
    };
    static const std::string none;
    for (const auto& f : filters) {
        bool ok = true;
        if (f.name == "instance-id")
            ok = f.matches(d.instance_id);
        else if (f.name == "disk-id")
            ok = f.matches(d.id);
        else if (f.name == "disk-state")
            ok = f.matches(d.state);
        else if (f.name == "disk-usage")
            ok = f.matches(d.usage);
        else if (f.name == "disk-name")
            ok = f.matches(d.name);
        else if (f.name == "disk-type")
            ok = f.matches(d.type);
        else if (f.name == "disk-charge-type")
            ok = f.matches(d.charge_type);
        else if (f.name == "zone")
            ok = f.matches(d.zone);
        else if (f.name == "portable")
            ok = f.matches(d.usage == "DATA_DISK" ? "TRUE" : "FALSE");
        else if (f.name == "project-id")
            ok = f.matches(std::to_string(d.project_id));
        else if (f.name == "instance-name") {
            const auto* ins = instance();
            ok = ins && f.matches(ins->name);
        } else if (f.name == "instance-ip-address") {
            const auto* ins = instance();
            ok = ins && f.matches(ins->ip);
        } else if (f.name == "tag-key")
            ok = has_tag(d, f, true, false);
        else if (f.name == "tag-value")
            ok = has_tag(d, f, false, true);
        else if (is_tag_filter(f.name)) {
            const auto key = f.name.substr(4);
            ok = std::any_of(d.tags.begin(), d.tags.end(),
                             [&](const tag& t) { return t.key == key && f.matches(t.value); });
        } else if (f.name == "dedicated-cluster-id" || f.name == "cluster-group-id") {
            ok = f.matches(none);  // emulated disks are in no dedicated cluster
        }
        if (!ok) return false;
    }
    return true;
}

json::object fleet_impl::describe_disks(const json::object& params, clock::time_point /*now*/) {
    check_known(params,
                {"DiskIds", "Filters", "Limit", "Offset", "OrderField", "Order", "ReturnBindAutoSnapshotPolicy"});
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
        if (disk_ids->size() > max_disk_ids)
            fail("InvalidParameterValue", "The parameter `DiskIds` takes at most " + std::to_string(max_disk_ids) +
                                              " disk ids, got " + std::to_string(disk_ids->size()) + ".");
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
        j["DiskChargeType"] = d.charge_type;
        j["Attached"] = !d.instance_id.empty() && d.state != "ATTACHING";  // attached once the attach completes
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
        j["Placement"] = json::object{{"Zone", d.zone}, {"ProjectId", d.project_id}};
        j["SnapshotCount"] = static_cast<std::int64_t>(d.snapshot_count);  // int64, as parsed JSON would be
        j["CreateTime"] = disk_create_time(d);
        json::array tags;
        for (const auto& t : d.tags) tags.push_back(json::object{{"Key", t.key}, {"Value", t.value}});
        j["Tags"] = std::move(tags);
        // Nullable in the API: pay-as-you-go disks have none.
        if (d.charge_type == "PREPAID")
            j["DeadlineTime"] = disk_deadline_time(d);
        else
            j["DeadlineTime"] = nullptr;
        if (with_policies) j["AutoSnapshotPolicyIds"] = json::array{};
        set.push_back(std::move(j));
    }
    return json::object{{"TotalCount", static_cast<std::int64_t>(matched.size())}, {"DiskSet", std::move(set)}};
}

}  // namespace cbs::emu::detail
