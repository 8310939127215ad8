// cbsctl report merge: checks that the reports are the shards of one run,
// that no instance is in two of them, and combines them (report_merge.hpp).
#include "report_merge.hpp"

#include "fleet_output.hpp"

#include <cbs/fleet_types.hpp>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <ostream>
#include <sstream>
#include <unordered_map>

namespace cbsctl {
namespace {

namespace json = boost::json;

/// A non-negative integer, as Boost.JSON parses it (int64 or uint64).
std::optional<std::uint64_t> count_of(const json::value* v) {
    if (v == nullptr) return std::nullopt;
    if (v->is_uint64()) return v->get_uint64();
    if (v->is_int64() && v->get_int64() >= 0) return static_cast<std::uint64_t>(v->get_int64());
    return std::nullopt;
}

double seconds_of(const json::value& v) {
    if (v.is_double()) return v.get_double();
    if (v.is_int64()) return static_cast<double>(v.get_int64());
    if (v.is_uint64()) return static_cast<double>(v.get_uint64());
    return 0;
}

std::string text_of(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

bool known_outcome(std::string_view o) {
    for (auto k : {cbs::instance_outcome::pending, cbs::instance_outcome::skipped, cbs::instance_outcome::created,
                   cbs::instance_outcome::normal, cbs::instance_outcome::failed, cbs::instance_outcome::unknown})
        if (cbs::to_string(k) == o) return true;
    return false;
}

/// One input, checked.
struct shard_input {
    const std::string* file = nullptr;
    const json::object* doc = nullptr;
    std::string run_id;
    std::size_t index = 1, count = 1;
    std::uint64_t listed = 0;
    const json::object* summary = nullptr;
    const json::array* instances = nullptr;
};

[[noreturn]] void bad(const std::string& file, const std::string& what) {
    throw usage_error("report merge: '" + file + "': " + what);
}

shard_input check_one(const shard_report_file& f) {
    shard_input s;
    s.file = &f.file;
    const std::string not_report = "not a snapshot-fleet report (a JSON object with run_id, summary and instances)";
    if (!f.doc.is_object()) bad(f.file, not_report);
    const auto& o = f.doc.get_object();
    s.doc = &o;
    if (o.contains("dry_run")) bad(f.file, "a --dry-run plan, not a snapshot-fleet report");
    if (o.contains("regions"))
        bad(f.file,
            "a report of several regions (--regions): report merge takes single-region reports (run each region's "
            "shards with --region, and merge each region's reports apart)");
    s.run_id = text_of(o, "run_id");
    if (s.run_id.empty()) bad(f.file, not_report + ": no run_id");
    const auto* summary = o.if_contains("summary");
    if (!summary || !summary->is_object()) bad(f.file, not_report + ": no summary object");
    s.summary = &summary->get_object();
    const auto* instances = o.if_contains("instances");
    if (!instances || !instances->is_array()) bad(f.file, not_report + ": no instances array");
    s.instances = &instances->get_array();
    s.listed = s.instances->size();
    if (const auto* shard = o.if_contains("shard")) {  // absent: a report of a run that was not split (1/1)
        const auto* so = shard->if_object();
        const auto index = so ? count_of(so->if_contains("index")) : std::nullopt;
        const auto count = so ? count_of(so->if_contains("count")) : std::nullopt;
        if (!index || !count) bad(f.file, "its shard is not {\"index\": I, \"count\": N}");
        if (auto why = cbs::fleet_shard_error(*index, *count); !why.empty()) bad(f.file, why);
        s.index = *index;
        s.count = *count;
        if (auto listed = count_of(so->if_contains("instances_listed"))) s.listed = *listed;
    }
    for (std::size_t k = 0; k < s.instances->size(); ++k) {
        const auto* io = (*s.instances)[k].if_object();
        const std::string where = "instance #" + std::to_string(k + 1);
        if (!io) bad(f.file, where + " is not an object");
        const auto id = text_of(*io, "instance_id");
        if (id.empty()) bad(f.file, where + " has no instance_id");
        const auto outcome = text_of(*io, "outcome");
        if (!known_outcome(outcome)) {
            std::string what = "instance " + id;
            what += " has an unknown outcome '";
            what += outcome;
            what += "'";
            bad(f.file, what);
        }
    }
    return s;
}

std::string shard_text(std::size_t i, std::size_t n) {
    return std::to_string(i) + "/" + std::to_string(n);
}

std::string list_text(const std::vector<std::size_t>& v) {
    std::string out;
    for (auto i : v) out += (out.empty() ? "" : ", ") + std::to_string(i);
    return out;
}

/// The summary of the whole run: counters summed, times the longest,
/// interrupted if any shard was, errors collected per shard.
json::object sum_summaries(const std::vector<shard_input>& parts) {
    static constexpr const char* counters[] = {
        "instances",   "normal",  "created", "skipped",          "failed",
        "unknown",     "pending", "adopted", "duplicates_found", "duplicates_deleted",
        "creates_sent"};
    json::object total;
    for (const char* k : counters) {
        std::uint64_t sum = 0;
        for (const auto& p : parts)
            if (auto n = count_of(p.summary->if_contains(k))) sum += *n;
        total[k] = sum;
    }
    for (const char* k : {"discover_s", "create_s", "total_s"}) {
        double longest = 0;
        for (const auto& p : parts)
            if (const auto* v = p.summary->if_contains(k)) longest = std::max(longest, seconds_of(*v));
        total[k] = longest;
    }
    bool interrupted = false;
    for (const auto& p : parts) {
        const auto* v = p.summary->if_contains("interrupted");
        interrupted = interrupted || (v && v->is_bool() && v->get_bool());
    }
    total["interrupted"] = interrupted;
    for (const char* k : {"journal_error", "sweep_error"}) {
        std::string all;
        for (const auto& p : parts)
            if (auto e = text_of(*p.summary, k); !e.empty())
                all += (all.empty() ? "" : "; ") + ("shard " + shard_text(p.index, p.count) + ": " + e);
        if (!all.empty()) total[k] = all;
    }
    return total;
}

}  // namespace

boost::json::value read_report_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw usage_error("report merge: cannot read '" + path + "': " + std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    if (!in.good() && !in.eof()) throw usage_error("report merge: cannot read '" + path + "'");
    boost::system::error_code ec;
    auto v = json::parse(ss.str(), ec);
    if (ec)
        throw usage_error("report merge: '" + path + "' is not JSON (" + ec.message() +
                          "): not a snapshot-fleet report, or a report cut short");
    return v;
}

merged_reports merge_fleet_reports(const std::vector<shard_report_file>& in) {
    if (in.empty()) throw usage_error("report merge needs at least one report");
    std::vector<shard_input> parts;
    parts.reserve(in.size());
    for (const auto& f : in) parts.push_back(check_one(f));
    const auto& first = parts.front();
    std::map<std::size_t, const shard_input*> by_index;
    for (const auto& p : parts) {
        if (p.run_id != first.run_id)
            throw usage_error("report merge: mixed runs: '" + *first.file + "' is of run '" + first.run_id + "', '" +
                              *p.file + "' of run '" + p.run_id + "' (merge the shards of one run)");
        if (p.count != first.count)
            throw usage_error("report merge: '" + *first.file + "' is shard " + shard_text(first.index, first.count) +
                              " but '" + *p.file + "' is shard " + shard_text(p.index, p.count) +
                              ": one run's shards all have the same N");
        auto [it, fresh] = by_index.emplace(p.index, &p);
        if (!fresh)
            throw usage_error("report merge: '" + *it->second->file + "' and '" + *p.file + "' are both shard " +
                              shard_text(p.index, p.count) + " of run '" + p.run_id + "'");
    }
    // No instance twice (a shard of another split, an edited report).
    std::unordered_map<std::string, const shard_input*> owner;
    for (const auto& [index, p] : by_index)
        for (const auto& v : *p->instances) {
            const auto id = text_of(v.get_object(), "instance_id");
            auto [it, fresh] = owner.emplace(id, p);
            if (fresh) continue;
            if (it->second == p) bad(*p->file, "instance " + id + " is listed twice");
            throw usage_error("report merge: instance " + id + " is in two reports: '" + *it->second->file + "' and '" +
                              *p->file + "'");
        }
    // Each instance in the shard the hash puts it in (else a report was
    // edited, or made by another tool: its coverage cannot be trusted).
    for (const auto& [index, p] : by_index)
        for (const auto& v : *p->instances) {
            const auto id = text_of(v.get_object(), "instance_id");
            if (const auto home = cbs::fleet_shard_of(id, p->count); home != p->index)
                bad(*p->file, "instance " + id + " belongs to shard " + std::to_string(home) + "/" +
                                  std::to_string(p->count) + ", not to this report's shard " +
                                  std::to_string(p->index) + "/" + std::to_string(p->count) +
                                  " (an edited report, or one of another tool?)");
        }

    merged_reports m;
    const std::size_t n = first.count;
    for (std::size_t i = 1; i <= n; ++i) (by_index.count(i) ? m.present : m.missing).push_back(i);
    const bool complete = m.missing.empty();

    std::vector<shard_input> ordered;
    ordered.reserve(by_index.size());
    for (const auto& [index, p] : by_index) ordered.push_back(*p);
    auto summary = sum_summaries(ordered);
    // all_ok over the whole run: every shard's, no instance left failed,
    // unknown or never started, and every shard there.
    bool all_ok = complete;
    std::uint64_t listed = 0, covered = 0;
    json::array instances, from;
    for (const auto& p : ordered) {
        const auto* ok = p.summary->if_contains("all_ok");
        all_ok = all_ok && ok && ok->is_bool() && ok->get_bool();
        listed = std::max(listed, p.listed);
        covered += p.instances->size();
        for (const auto& v : *p.instances) {
            const auto outcome = text_of(v.get_object(), "outcome");
            all_ok = all_ok && outcome != "failed" && outcome != "unknown" && outcome != "pending";
            instances.push_back(v);
        }
        from.push_back(json::object{{"file", *p.file},
                                    {"shard", p.index},
                                    {"instances", p.instances->size()},
                                    {"instances_listed", p.listed},
                                    {"all_ok", ok && ok->is_bool() && ok->get_bool()}});
    }
    summary["all_ok"] = all_ok;

    // The exit status snapshot-fleet gives a run with these results.
    cbs::fleet_report whole;
    whole.all_ok = all_ok;
    whole.interrupted = summary.at("interrupted").as_bool();
    whole.journal_error = text_of(summary, "journal_error");
    whole.sweep_error = text_of(summary, "sweep_error");
    m.exit_status = fleet_exit_status(whole, false);

    json::array present, missing;
    for (auto i : m.present) present.emplace_back(i);
    for (auto i : m.missing) missing.emplace_back(i);
    auto& r = m.report;
    r["run_id"] = first.run_id;
    r["shard"] = json::object{{"count", n},           {"present", std::move(present)}, {"missing", std::move(missing)},
                              {"complete", complete}, {"instances_listed", listed},    {"instances_covered", covered}};
    if (!complete)
        r["incomplete"] = "INCOMPLETE: no report of shard" + std::string(m.missing.size() > 1 ? "s " : " ") +
                          list_text(m.missing) + " of " + std::to_string(n) +
                          ": the instances of the missing shards are not covered by this report";
    r["merged_from"] = std::move(from);
    r["summary"] = std::move(summary);
    r["instances"] = std::move(instances);
    r["exit_status"] = m.exit_status;
    return m;
}

void print_merge_summary(std::ostream& os, const merged_reports& m, const std::string& where) {
    const auto& r = m.report;
    const auto& s = r.at("summary").as_object();
    const auto& shard = r.at("shard").as_object();
    const auto n = shard.at("count").to_number<std::uint64_t>();
    auto num = [&](const char* k) { return std::to_string(count_of(s.if_contains(k)).value_or(0)); };
    os << "cbsctl: report merge: run " << r.at("run_id").as_string().c_str() << ": shard"
       << (m.present.size() > 1 ? "s " : " ") << list_text(m.present) << " of " << n
       << (m.missing.empty() ? " (every shard)" : "") << ": " << num("instances") << " instances of "
       << shard.at("instances_listed").to_number<std::uint64_t>() << " listed: " << num("normal") << " normal, "
       << num("created") << " created (not seen NORMAL), " << num("skipped") << " skipped, " << num("failed")
       << " failed, " << num("unknown") << " unknown, " << num("pending") << " never started (pending)\n"
       << "cbsctl: duplicates: " << num("duplicates_found") << " found, " << num("duplicates_deleted") << " deleted; "
       << num("creates_sent") << " creates sent, " << num("adopted") << " groups found from an earlier attempt\n";
    if (!m.missing.empty())
        os << "cbsctl: " << r.at("incomplete").as_string().c_str() << " (run them: --run-id "
           << r.at("run_id").as_string().c_str() << " --shard " << m.missing.front() << "/" << n << ")\n";
    constexpr std::size_t max_lines = 20;  // the report has them all
    std::size_t shown = 0, more = 0;
    for (const auto& v : r.at("instances").as_array()) {
        const auto& i = v.as_object();
        const auto outcome = text_of(i, "outcome");
        if (outcome != "failed" && outcome != "unknown") continue;
        if (shown == max_lines) {
            ++more;
            continue;
        }
        ++shown;
        os << "cbsctl:   " << text_of(i, "instance_id") << ": " << outcome;
        if (auto code = text_of(i, "error_code"); !code.empty()) os << ": " << code;
        if (auto msg = text_of(i, "error_message"); !msg.empty()) os << ": " << msg;
        os << "\n";
    }
    if (more) os << "cbsctl:   ... and " << more << " more (see the report)\n";
    for (const char* k : {"journal_error", "sweep_error"})
        if (auto e = text_of(s, k); !e.empty()) os << "cbsctl: " << k << ": " << e << "\n";
    if (s.at("interrupted").as_bool()) os << "cbsctl: a shard was interrupted\n";
    os << "cbsctl: merged report: " << where << " (exit status " << m.exit_status << ")\n";
}

}  // namespace cbsctl
