// Retention planning (see retention.hpp for the rules R1-R9).
#include <cbs/fleet_names.hpp>
#include <cbs/retention.hpp>

#include <algorithm>
#include <chrono>
#include <set>
#include <tuple>

namespace cbs {

namespace {

error_code invalid(diagnostics& diag, std::string what) {
    diag.client_message = std::move(what);
    return client_errc::invalid_request;
}

/// Newest first: larger CreateTime, then larger id.
bool newer(const retention_decision& a, const retention_decision& b) {
    return std::tie(*a.group.created, a.group.id) > std::tie(*b.group.created, b.group.id);
}

/// Parses exactly `n` digits at `s[at]`.
bool digits(std::string_view s, std::size_t at, std::size_t n, int& out) noexcept {
    if (at + n > s.size()) return false;
    int v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    out = v;
    return true;
}

}  // namespace

std::string_view to_string(retention_reason r) noexcept {
    switch (r) {
        case retention_reason::not_fleet_name:
            return "not_fleet_name";
        case retention_reason::other_prefix:
            return "other_prefix";
        case retention_reason::other_instance:
            return "other_instance";
        case retention_reason::not_normal:
            return "not_normal";
        case retention_reason::unknown_age:
            return "unknown_age";
        case retention_reason::newest_n:
            return "newest_n";
        case retention_reason::younger:
            return "younger";
        case retention_reason::newest_protected:
            return "newest_protected";
        case retention_reason::beyond_keep_last:
            return "beyond_keep_last";
        case retention_reason::older_than:
            return "older_than";
        case retention_reason::beyond_keep_last_and_older:
            return "beyond_keep_last_and_older";
    }
    return "?";
}

bool is_deletion(retention_reason r) noexcept {
    return r == retention_reason::beyond_keep_last || r == retention_reason::older_than ||
           r == retention_reason::beyond_keep_last_and_older;
}

error_code validate(const retention_options& o, diagnostics& diag) {
    if (!o.keep_last && !o.older_than)
        return invalid(diag, "give --keep-last N or --older-than DURATION (or both): nothing says what to delete");
    if (o.keep_last && *o.keep_last == 0 && !o.allow_delete_newest)
        return invalid(diag,
                       "--keep-last 0 would delete every group of an instance, the newest included; add "
                       "--allow-delete-newest if that is what you want");
    if (o.older_than && o.older_than->count() <= 0) return invalid(diag, "--older-than must be positive");
    for (const auto& id : o.instances)
        if (!is_instance_id(id))
            return invalid(diag,
                           "--instance '" + id + "' is not an instance id (ins- and 8 lower-case letters or digits)");
    return {};
}

std::vector<retention_decision> retention_plan::deletions() const {
    std::vector<retention_decision> out;
    for (const auto& s : series) out.insert(out.end(), s.deleted.rbegin(), s.deleted.rend());
    return out;
}

retention_plan plan_retention(std::vector<retention_group> groups, const retention_options& o) {
    // Paging may list a group twice when the set shifts: one decision per id.
    std::sort(groups.begin(), groups.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    groups.erase(std::unique(groups.begin(), groups.end(), [](const auto& a, const auto& b) { return a.id == b.id; }),
                 groups.end());
    const std::set<std::string, std::less<>> selected(o.instances.begin(), o.instances.end());

    retention_plan plan;
    plan.listed = groups.size();
    std::map<std::pair<std::string, std::string>, std::vector<retention_decision>> series;  // (instance, prefix)
    const auto settle = [&](retention_decision d) {
        ++plan.counts[d.reason];
        if (d.remove())
            ++plan.to_delete;
        else
            ++plan.kept;
        return d;
    };
    for (auto& g : groups) {
        retention_decision d;
        d.group = std::move(g);
        if (d.group.created) d.age_seconds = o.now - *d.group.created;
        auto parts = parse_fleet_group_name(d.group.name, o.prefix);
        if (!parts) {
            const bool fleet_name = !o.prefix.empty() && parse_fleet_group_name(d.group.name);
            d.reason = fleet_name ? retention_reason::other_prefix : retention_reason::not_fleet_name;  // R2 / R1
            plan.untouched.push_back(settle(std::move(d)));
            continue;
        }
        d.prefix = std::move(parts->prefix);
        d.instance_id = std::move(parts->instance_id);
        if (!selected.empty() && !selected.contains(d.instance_id)) {  // R3
            d.reason = retention_reason::other_instance;
            plan.untouched.push_back(settle(std::move(d)));
            continue;
        }
        series[{d.instance_id, d.prefix}].push_back(std::move(d));
    }

    for (auto& [key, members] : series) {
        retention_series s;
        s.instance_id = key.first;
        s.prefix = key.second;
        std::vector<retention_decision> normal;
        for (auto& d : members) {
            if (d.group.state != "NORMAL") {  // R4
                d.reason = retention_reason::not_normal;
                s.kept.push_back(std::move(d));
            } else if (!d.group.created) {  // R5
                d.reason = retention_reason::unknown_age;
                s.kept.push_back(std::move(d));
            } else {
                normal.push_back(std::move(d));
            }
        }
        std::sort(normal.begin(), normal.end(), newer);
        for (std::size_t rank = 0; rank < normal.size(); ++rank) {
            auto& d = normal[rank];
            const bool in_newest = o.keep_last && rank < *o.keep_last;
            const bool young = o.older_than && d.age_seconds <= o.older_than->count();
            if (in_newest)
                d.reason = retention_reason::newest_n;  // R6
            else if (young)
                d.reason = retention_reason::younger;  // R7
            else if (rank == 0 && !o.allow_delete_newest)
                d.reason = retention_reason::newest_protected;  // R8
            else if (o.keep_last && o.older_than)
                d.reason = retention_reason::beyond_keep_last_and_older;  // R9
            else
                d.reason = o.keep_last ? retention_reason::beyond_keep_last : retention_reason::older_than;
            (d.remove() ? s.deleted : s.kept).push_back(std::move(d));
        }
        // Newest first in both lists (the kept non-NORMAL ones among them).
        const auto by_age = [](const retention_decision& a, const retention_decision& b) {
            return std::tie(a.group.created, a.group.id) > std::tie(b.group.created, b.group.id);
        };
        std::sort(s.kept.begin(), s.kept.end(), by_age);
        std::sort(s.deleted.begin(), s.deleted.end(), by_age);
        for (auto& d : s.kept) d = settle(std::move(d));
        for (auto& d : s.deleted) d = settle(std::move(d));
        plan.series.push_back(std::move(s));
    }
    return plan;
}

std::optional<std::int64_t> parse_create_time(std::string_view t) noexcept {
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
    if (!digits(t, 0, 4, y) || t.size() < 19 || t[4] != '-' || !digits(t, 5, 2, mo) || t[7] != '-' ||
        !digits(t, 8, 2, d) || (t[10] != ' ' && t[10] != 'T') || !digits(t, 11, 2, h) || t[13] != ':' ||
        !digits(t, 14, 2, mi) || t[16] != ':' || !digits(t, 17, 2, s))
        return std::nullopt;
    using namespace std::chrono;
    const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
    if (!ymd.ok() || h > 23 || mi > 59 || s > 60) return std::nullopt;
    std::int64_t offset_s = std::int64_t{8} * 3600;  // "YYYY-MM-DD hh:mm:ss": Beijing time
    const auto zone = t.substr(19);
    if (t[10] == 'T') {
        int zh = 0, zm = 0;
        if (zone == "Z")
            offset_s = 0;
        else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && digits(zone, 1, 2, zh) && zone[3] == ':' &&
                 digits(zone, 4, 2, zm) && zh <= 23 && zm <= 59)
            offset_s = (zone[0] == '-' ? -1 : 1) * (std::int64_t{zh} * 3600 + std::int64_t{zm} * 60);
        else
            return std::nullopt;
    } else if (!zone.empty()) {
        return std::nullopt;
    }
    const auto days_since = sys_days{ymd}.time_since_epoch().count();
    return static_cast<std::int64_t>(days_since) * 86400 + std::int64_t{h} * 3600 + std::int64_t{mi} * 60 + s -
           offset_s;
}

}  // namespace cbs
