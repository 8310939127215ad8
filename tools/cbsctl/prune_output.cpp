// cbsctl prune: printing the plan, the report and the --json summary.
#include "prune.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <ostream>

namespace cbsctl {

namespace json = boost::json;

std::size_t prune_result::count(std::string_view outcome) const {
    return static_cast<std::size_t>(
        std::count_if(deletions.begin(), deletions.end(), [&](const auto& d) { return d.outcome == outcome; }));
}

std::string compact_age(std::int64_t s) {
    if (s < 0) return "0s";  // a clock behind the service's: "just now"
    const std::pair<std::int64_t, const char*> units[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
    std::string out;
    int shown = 0;
    for (auto [len, name] : units) {
        if (shown == 2) break;
        if (s >= len) {
            out += std::to_string(s / len) + name;
            s %= len;
            ++shown;
        } else if (shown == 1) {
            break;  // "1d" rather than "1d0h"
        }
    }
    return out.empty() ? "0s" : out;
}

void print_plan(std::ostream& os, const prune_result& r, output_format format) {
    std::vector<const prune_deletion*> rows;
    for (const auto& d : r.deletions)
        if (d.outcome != "deleted_earlier") rows.push_back(&d);
    if (format == output_format::json) {
        json::array a;
        for (const auto* d : rows) {
            const auto& g = d->decision;
            a.push_back(json::object{{"group_id", g.group.id},
                                     {"name", g.group.name},
                                     {"instance_id", g.instance_id},
                                     {"create_time", g.group.create_time},
                                     {"age_s", g.age_seconds},
                                     {"reason", std::string(cbs::to_string(g.reason))}});
        }
        os << json::serialize(a) << "\n";
        return;
    }
    if (format == output_format::text) {
        for (const auto* d : rows) {
            const auto& g = d->decision;
            os << g.group.id << '\t' << g.instance_id << '\t' << g.group.create_time << '\t' << g.age_seconds << '\t'
               << cbs::to_string(g.reason) << '\t' << g.group.name << "\n";
        }
        return;
    }
    // Table: columns as wide as their widest cell.
    std::vector<std::array<std::string, 6>> cells{{"GROUP", "INSTANCE", "CREATED", "AGE", "REASON", "NAME"}};
    for (const auto* d : rows) {
        const auto& g = d->decision;
        cells.push_back({g.group.id, g.instance_id, g.group.create_time, compact_age(g.age_seconds),
                         std::string(cbs::to_string(g.reason)), g.group.name});
    }
    if (rows.empty()) return;
    std::array<std::size_t, 6> width{};
    for (const auto& row : cells)
        for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    for (const auto& row : cells) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
        }
        os << line << "\n";
    }
}

std::string plan_counts_line(const prune_result& r) {
    const auto& p = r.plan;
    std::size_t fleet = 0, series = p.series.size();
    for (const auto& s : p.series) fleet += s.kept.size() + s.deleted.size();
    std::string kept;
    for (const auto& [reason, n] : p.counts) {
        if (cbs::is_deletion(reason)) continue;
        kept += (kept.empty() ? "" : ", ") + std::string(cbs::to_string(reason)) + " " + std::to_string(n);
    }
    return "listed " + std::to_string(p.listed) + " groups: " + std::to_string(fleet) + " of fleet names in " +
           std::to_string(series) + " series (prefix, instance); " + std::to_string(p.to_delete) + " to delete, " +
           std::to_string(p.kept) + " kept" + (kept.empty() ? "" : " (" + kept + ")");
}

namespace {

json::object counts_object(const prune_result& r) {
    json::object kept;
    for (const auto& [reason, n] : r.plan.counts)
        if (!cbs::is_deletion(reason)) kept[cbs::to_string(reason)] = n;
    return json::object{{"listed", r.plan.listed},
                        {"kept", r.plan.kept},
                        {"kept_by_reason", std::move(kept)},
                        {"planned", r.plan.to_delete},
                        {"deleted", r.count("deleted")},
                        {"already_gone", r.count("already_gone")},
                        {"deleted_earlier", r.count("deleted_earlier")},
                        {"failed", r.count("failed")},
                        {"not_started", r.count("not_started")}};
}

}  // namespace

json::object prune_report(const prune_result& r) {
    json::array deletions, failures;
    for (const auto& d : r.deletions) {
        const auto& g = d.decision;
        json::object o{{"group_id", g.group.id},
                       {"name", g.group.name},
                       {"instance_id", g.instance_id},
                       {"prefix", g.prefix},
                       {"create_time", g.group.create_time},
                       {"age_s", g.age_seconds},
                       {"reason", std::string(cbs::to_string(g.reason))},
                       {"outcome", d.outcome},
                       {"request_id", d.request_id}};
        if (g.group.created) o["create_unix"] = *g.group.created;
        if (!d.error_code.empty()) o["error_code"] = d.error_code;
        if (!d.error_message.empty()) o["error_message"] = d.error_message;
        if (d.outcome == "failed" || d.outcome == "not_started") failures.push_back(o);
        deletions.push_back(std::move(o));
    }
    json::object report{{"run_id", r.run_id},
                        {"command", "prune"},
                        {"region", r.region},
                        {"endpoint", r.endpoint},
                        {"journal", r.journal},
                        {"options", r.options},
                        {"executed", r.executed},
                        {"interrupted", r.interrupted},
                        {"summary", counts_object(r)},
                        {"deletions", std::move(deletions)},
                        {"failures", std::move(failures)}};
    if (!r.journal_error.empty()) report["journal_error"] = r.journal_error;
    return report;
}

json::object prune_summary(const prune_result& r, int exit_status) {
    json::object out{{"run_id", r.run_id},
                     {"report", r.report},
                     {"journal", r.journal},
                     {"region", r.region},
                     {"executed", r.executed}};
    for (auto& kv : counts_object(r))
        if (kv.key() != "kept_by_reason") out[kv.key()] = kv.value();
    out["exit_status"] = exit_status;
    return out;
}

}  // namespace cbsctl
