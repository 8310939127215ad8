// The fleet report as JSON, and small helpers shared by the fleet engine.
#include <cbs/fleet_types.hpp>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

namespace cbs {

std::string_view to_string(instance_outcome o) noexcept {
    switch (o) {
        case instance_outcome::pending:
            return "pending";
        case instance_outcome::skipped:
            return "skipped";
        case instance_outcome::created:
            return "created";
        case instance_outcome::normal:
            return "normal";
        case instance_outcome::failed:
            return "failed";
        case instance_outcome::unknown:
            return "unknown";
    }
    return "?";
}

std::string fleet_group_name(const fleet_params& params, std::string_view instance_id) {
    std::string name = params.name_prefix;
    name += '-';
    name += instance_id;
    name += '-';
    name += params.run_id;
    return name;
}

boost::json::object to_json(const fleet_report& report) {
    namespace json = boost::json;
    json::array instances;
    instances.reserve(report.instances.size());
    for (const auto& r : report.instances) {
        json::array disks, skipped, rids, dups, deleted;
        for (const auto& d : r.disk_ids) disks.emplace_back(d);
        for (const auto& id : r.duplicate_group_ids) dups.emplace_back(id);
        for (const auto& id : r.deleted_group_ids) deleted.emplace_back(id);
        for (const auto& s : r.skipped_disks)
            skipped.push_back(json::object{{"disk_id", s.disk_id}, {"reason", s.reason}});
        for (const auto& id : r.request_ids) rids.emplace_back(id);
        json::object o{{"instance_id", r.instance_id},
                       {"outcome", to_string(r.outcome)},
                       {"disk_ids", std::move(disks)},
                       {"skipped_disks", std::move(skipped)},
                       {"group_name", r.group_name},
                       {"group_id", r.group_id},
                       {"group_state", r.group_state},
                       {"adopted", r.adopted},
                       {"attempts", r.attempts},
                       {"sends", r.sends},
                       {"request_ids", std::move(rids)},
                       {"duplicate_group_ids", std::move(dups)},
                       {"deleted_group_ids", std::move(deleted)}};
        // Each on its own: a note (duplicates deleted, found by the sweep) has no code.
        if (!r.error_name.empty()) o["error_code"] = r.error_name;
        if (!r.error_message.empty()) o["error_message"] = r.error_message;
        if (r.created_s >= 0) o["created_s"] = r.created_s;
        if (r.normal_s >= 0) o["normal_s"] = r.normal_s;
        instances.push_back(std::move(o));
    }
    const auto& s = report.summary;
    json::object summary{{"instances", s.instances},
                         {"normal", s.normal},
                         {"created", s.created},
                         {"skipped", s.skipped},
                         {"failed", s.failed},
                         {"unknown", s.unknown},
                         {"pending", s.pending},
                         {"adopted", s.adopted},
                         {"duplicates_found", s.duplicates_found},
                         {"duplicates_deleted", s.duplicates_deleted},
                         {"creates_sent", s.creates_sent},
                         {"discover_s", s.discover_s},
                         {"create_s", s.create_s},
                         {"total_s", s.total_s},
                         {"all_ok", report.all_ok},
                         {"interrupted", report.interrupted}};
    if (!report.journal_error.empty()) summary["journal_error"] = report.journal_error;
    if (!report.sweep_error.empty()) summary["sweep_error"] = report.sweep_error;
    // Always there (1/1 when not split), so `cbsctl report merge` can tell
    // the shards of a run apart and what each one covered.
    json::object shard{{"index", report.shard_index},
                       {"count", report.shard_count},
                       {"instances_listed", report.listed_instances},
                       {"instances_in_shard", report.instances.size()}};
    return {{"run_id", report.run_id},
            {"shard", std::move(shard)},
            {"summary", std::move(summary)},
            {"instances", std::move(instances)}};
}

}  // namespace cbs
