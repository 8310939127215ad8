// cbsctl snapshot-fleet / demo: the fleets of one or several regions run
// side by side on one io_context (see fleet_run.hpp).
#include "fleet_run.hpp"

#include <cbs/describe_actions.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json/object.hpp>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>

namespace cbsctl {

bool usage_code(const cbs::error_code& ec) {
    return ec == cbs::client_errc::invalid_request || ec == cbs::client_errc::invalid_config ||
           ec == cbs::client_errc::run_in_progress;
}

namespace {

/// What one region's fleet came to: a report, or the error that stopped it
/// before it could make one (bad configuration, a journal in use, discovery
/// failing).
struct region_result {
    std::optional<cbs::fleet_report> report;
    std::string error;   ///< "" or the message
    bool usage = false;  ///< the error is bad usage or configuration
};

/// Runs async_snapshot_fleet for every region concurrently. SIGINT/SIGTERM
/// cancels them all (the calls in flight finish; a second signal ends the
/// process at once, calling `abandon` first). `progress` sees every event of
/// every region.
std::vector<region_result> run_all(boost::asio::io_context& io, std::vector<region_run>& runs,
                                   const std::function<void(const std::string&, const cbs::fleet_event&)>& progress,
                                   int& signals_seen, const std::function<void()>& abandon,
                                   const std::function<void()>& after) {
    std::vector<region_result> out(runs.size());
    std::vector<std::unique_ptr<boost::asio::cancellation_signal>> stops;
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    std::size_t left = runs.size();
    std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code& ec,
                                                                               int) {
        if (ec) return;
        if (++signals_seen > 1) {
            if (abandon) abandon();
            std::_Exit(exit_interrupted);
        }
        std::cerr << "\ncbsctl: stopping: finishing the calls in flight, then writing the report (again to quit now)\n";
        for (auto& s : stops) s->emit(boost::asio::cancellation_type::terminal);
        signals.async_wait(on_signal);
    };
    signals.async_wait(on_signal);
    for (std::size_t i = 0; i < runs.size(); ++i) {
        stops.push_back(std::make_unique<boost::asio::cancellation_signal>());
        boost::asio::co_spawn(
            io,
            [&, i]() -> boost::asio::awaitable<void> {
                // A named function, not a temporary in the co_await
                // expression: GCC 12 destroys such temporaries twice.
                const std::string region = runs[i].region;
                cbs::fleet_progress each = [&progress, region](const cbs::fleet_event& e) { progress(region, e); };
                out[i].report = co_await cbs::async_snapshot_fleet(*runs[i].client, runs[i].params, each);
            },
            boost::asio::bind_cancellation_slot(stops[i]->slot(), [&, i](const std::exception_ptr& e) {
                if (e) try {
                        std::rethrow_exception(e);
                    } catch (const cbs::error& err) {
                        out[i].error = err.diag().to_string(err.code());
                        out[i].usage = usage_code(err.code());
                    } catch (const std::exception& err) {
                        out[i].error = err.what();
                    }
                if (--left == 0) {
                    signals.cancel();
                    if (after) after();
                }
            }));
    }
    io.run();
    io.restart();
    return out;
}

std::vector<region_result> plan_all(boost::asio::io_context& io, std::vector<region_run>& runs) {
    std::vector<region_run> plans = runs;
    for (auto& r : plans) r.params.plan_only = true;
    int signals_seen = 0;
    return run_all(io, plans, [](const std::string&, const cbs::fleet_event&) {}, signals_seen, {}, {});
}

/// Snapshots a plan would create (disks of the instances still to create).
std::size_t planned_snapshots(const cbs::fleet_report& r, std::size_t& groups) {
    std::size_t n = 0;
    groups = 0;
    for (const auto& i : r.instances)
        if (i.outcome == cbs::instance_outcome::pending && !i.disk_ids.empty()) {
            ++groups;
            n += i.disk_ids.size();
        }
    return n;
}

/// TotalCount of DescribeSnapshots in the region (nullopt: could not count).
std::optional<std::uint64_t> held_snapshots(boost::asio::io_context& io, cbs::client& c, std::string& why) {
    std::optional<std::uint64_t> out;
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
            cbs::describe_snapshots_request q;
            q.limit = 1;
            auto r = co_await c.async_invoke(q, cbs::as_result);
            if (r.ec)
                why = r.diag.to_string(r.ec);
            else
                out = r.value.total_count;
        },
        [](const std::exception_ptr&) {});
    io.run();
    io.restart();
    return out;
}

}  // namespace

void quota_preflight(boost::asio::io_context& io, std::vector<region_run>& runs, long long quota) {
    auto plans = plan_all(io, runs);
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const auto& region = runs[i].region;
        if (!plans[i].report) {
            std::cerr << "cbsctl: warning: quota pre-flight in " << region << ": could not plan: " << plans[i].error
                      << "\n";
            continue;
        }
        std::size_t groups = 0;
        const auto planned = planned_snapshots(*plans[i].report, groups);
        std::string why;
        const auto held = held_snapshots(io, *runs[i].client, why);
        if (!held) {
            std::cerr << "cbsctl: warning: quota pre-flight in " << region << ": could not count the snapshots: " << why
                      << "\n";
            continue;
        }
        if (*held + planned > static_cast<std::uint64_t>(quota))
            std::cerr << "cbsctl: warning: " << region << " holds " << *held << " snapshots and this run plans "
                      << planned << " more (" << groups << " groups): " << (*held + planned) << " is over the quota of "
                      << quota << "; creates past it fail with InsufficientSnapshotQuota (prune first: cbsctl prune)\n";
        else
            std::cerr << "cbsctl: quota pre-flight " << region << ": " << *held << " held + " << planned
                      << " planned <= " << quota << "\n";
    }
}

namespace {

/// Sums the counts of several regions' summaries (times: the longest).
boost::json::object combined_summary(const std::vector<boost::json::object>& parts) {
    boost::json::object total;
    for (const auto& s : parts)
        for (const auto& [k, v] : s) {
            auto* t = total.if_contains(k);
            if (!t) {
                total[k] = v;
            } else if (v.is_int64() && t->is_int64()) {
                *t = t->get_int64() + v.get_int64();
            } else if (v.is_uint64() && t->is_uint64()) {
                *t = t->get_uint64() + v.get_uint64();
            } else if (v.is_double() && t->is_double()) {
                *t = std::max(t->get_double(), v.get_double());
            }
        }
    return total;
}

const char* instance_action(const cbs::instance_report& i) {
    switch (i.outcome) {
        case cbs::instance_outcome::pending:
            return i.disk_ids.empty() ? "none" : "create";
        case cbs::instance_outcome::created:
        case cbs::instance_outcome::normal:
            return "exists";
        case cbs::instance_outcome::skipped:
            return "skip";
        default:
            return "cannot";
    }
}

}  // namespace

int run_dry(boost::asio::io_context& io, std::vector<region_run>& runs, const fleet_print& print,
            std::optional<long long> snapshot_quota) {
    auto plans = plan_all(io, runs);
    boost::json::array regions;
    std::size_t all_groups = 0, slowest_region = 0;
    int status = exit_ok;
    for (std::size_t k = 0; k < runs.size(); ++k) {
        const auto& region = runs[k].region;
        boost::json::object ro;
        ro["region"] = region;
        if (!plans[k].report) {
            ro["error"] = plans[k].error;
            std::cerr << "cbsctl: dry run: " << region << ": " << plans[k].error << "\n";
            status = plans[k].usage ? exit_usage : exit_failed;
            regions.push_back(std::move(ro));
            continue;
        }
        const auto& rep = *plans[k].report;
        std::size_t groups = 0;
        const auto snaps = planned_snapshots(rep, groups);
        std::size_t exists = 0, skipped = 0, cannot = 0;
        boost::json::array instances;
        if (!print.json) {
            std::cout << "region " << region << ": " << rep.instances.size() << " instances";
            if (rep.shard_count > 1)
                std::cout << " in shard " << rep.shard_index << "/" << rep.shard_count << " (of "
                          << rep.listed_instances << " listed or found)";
            std::cout << "\n";
        }
        for (const auto& i : rep.instances) {
            const std::string action = instance_action(i);
            exists += action == "exists";
            skipped += action == "skip";
            cannot += action == "cannot";
            boost::json::object entry;
            entry["instance_id"] = i.instance_id;
            entry["action"] = action;
            entry["group_name"] = i.group_name;
            if (!i.group_id.empty()) entry["group_id"] = i.group_id;
            boost::json::array disks, left;
            for (const auto& d : i.disk_ids) disks.emplace_back(d);
            for (const auto& s : i.skipped_disks)
                left.push_back(boost::json::object{{"disk_id", s.disk_id}, {"reason", s.reason}});
            entry["disk_ids"] = std::move(disks);
            entry["skipped_disks"] = std::move(left);
            if (!i.error_message.empty()) entry["reason"] = i.error_message;
            if (!print.json) {
                std::cout << "  " << i.instance_id << ": " << action;
                if (action == "create" || action == "exists") {
                    std::cout << " " << i.group_name << (i.group_id.empty() ? "" : " (" + i.group_id + ")") << " over";
                    for (const auto& d : i.disk_ids) std::cout << " " << d;
                }
                if (!i.error_message.empty()) std::cout << ": " << i.error_message;
                for (const auto& s : i.skipped_disks) std::cout << "\n      left out " << s.disk_id << ": " << s.reason;
                std::cout << "\n";
            }
            instances.push_back(std::move(entry));
        }
        ro["instances_total"] = rep.instances.size();
        ro["instances_listed"] = rep.listed_instances;  // every shard's (the same as the total when not split)
        ro["groups_to_create"] = groups;
        ro["snapshots_to_create"] = snaps;
        ro["groups_existing"] = exists;
        ro["instances_skipped"] = skipped;
        ro["instances_failing"] = cannot;
        ro["instances"] = std::move(instances);
        if (snapshot_quota) {
            std::string why;
            if (auto held = held_snapshots(io, *runs[k].client, why)) {
                ro["snapshots_held"] = *held;
                ro["over_quota"] = *held + snaps > static_cast<std::uint64_t>(*snapshot_quota);
                if (!print.json && *held + snaps > static_cast<std::uint64_t>(*snapshot_quota))
                    std::cout << "  warning: " << *held << " snapshots held + " << snaps
                              << " planned is over the quota of " << *snapshot_quota << "\n";
            } else {
                ro["quota_error"] = why;
            }
        }
        if (!print.json)
            std::cout << "region " << region << ": " << groups << " groups to create (" << snaps << " snapshots), "
                      << exists << " exist already, " << skipped << " skipped, " << cannot
                      << " cannot be snapshotted\n";
        all_groups += groups;
        slowest_region = std::max(slowest_region, groups);
        regions.push_back(std::move(ro));
    }
    // At the configured pace: every region's creates share one rate under the
    // account scope; each region has its own under the region scope.
    const double creates = static_cast<double>(print.rate_per_region ? slowest_region : all_groups);
    const auto seconds = static_cast<long long>(std::ceil(creates / print.create_rate));
    if (print.json) {
        boost::json::object doc;
        doc["dry_run"] = true;
        doc["run_id"] = runs.front().params.run_id;
        doc["shard"] =
            boost::json::object{{"index", runs.front().params.shard_index}, {"count", runs.front().params.shard_count}};
        doc["regions"] = std::move(regions);
        doc["groups_to_create"] = all_groups;
        doc["create_seconds_estimate"] = seconds;
        doc["exit_status"] = status;
        std::cout << json_text(doc) << "\n";
    } else {
        std::cout << "dry run: " << all_groups << " groups to create in about " << seconds << " s at "
                  << json_text(print.create_rate, 1) << " creates/s" << (print.rate_per_region ? " per region" : "")
                  << " (plus discovery and waiting for NORMAL); nothing was created\n";
    }
    return status;
}

namespace {

/// The limiter's part of the report: where the limit was kept and how often
/// Redis was away. One object when every region shares one group (they
/// then report the same link), else one per region.
boost::json::value limiter_json(const std::vector<region_run>& runs) {
    boost::json::object per;
    std::uint64_t throttled = 0;
    for (const auto& r : runs) {
        const auto s = r.client->stats();
        throttled += s.throttled;
        per[r.region] = boost::json::object{{"backend", s.limiter},
                                            {"fallback_now", s.limiter_fallback},
                                            {"fallbacks", s.limiter_fallbacks},
                                            {"shared_grants", s.limiter_shared_grants},
                                            {"fallback_grants", s.limiter_fallback_grants}};
    }
    const auto& first = per.begin()->value();
    const bool same = std::all_of(per.begin(), per.end(), [&](const auto& kv) { return kv.value() == first; });
    if (!same) return per;
    auto o = first.as_object();
    o["throttled"] = throttled;
    return o;
}

}  // namespace

int run_fleets(boost::asio::io_context& io, std::vector<region_run>& runs, report_file& report,
               const fleet_print& print, const std::function<void()>& after) {
    progress_display progress(print.json);
    const bool several = runs.size() > 1;
    auto on_event = [&](const std::string& region, const cbs::fleet_event& e) {
        progress(e);
        if (!print.verbose || e.what == cbs::fleet_event::planned) return;
        static constexpr const char* names[] = {"discovered", "planned",    "created",   "adopted",
                                                "retrying",   "normal",     "failed",    "unknown",
                                                "skipped",    "looking up", "duplicate", "deleted"};
        std::cerr << "cbsctl: " << (several ? region + ": " : "") << (e.instance_id.empty() ? "run" : e.instance_id)
                  << ": " << names[e.what] << (e.detail.empty() ? "" : " ") << e.detail << "\n";
    };
    int signals_seen = 0;
    auto results = run_all(
        io, runs, on_event, signals_seen, [&] { report.abandon(); }, after);
    progress.finish();

    int status = exit_ok;
    boost::json::object regions_doc;
    std::vector<boost::json::object> summaries;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        auto& r = results[i];
        if (!r.report) {
            std::cerr << "cbsctl: snapshot-fleet" << (several ? " " + runs[i].region : std::string()) << ": " << r.error
                      << "\n";
            const int s = signals_seen ? exit_interrupted : r.usage ? exit_usage : exit_failed;
            status = std::max(status, s);
            if (several) regions_doc[runs[i].region] = boost::json::object{{"error", r.error}};
            continue;
        }
        status = std::max(status, fleet_exit_status(*r.report, signals_seen > 0));
        auto doc = cbs::to_json(*r.report);
        summaries.push_back(doc.at("summary").as_object());
        summaries.back()["journal"] = runs[i].params.journal_path;
        regions_doc[runs[i].region] = std::move(doc);
    }
    if (!several && !results[0].report) {
        report.abandon();
        return status;
    }
    boost::json::value doc;
    if (several) {
        const auto& fp = runs.front().params;
        doc = boost::json::object{{"run_id", fp.run_id},
                                  {"shard", boost::json::object{{"index", fp.shard_index}, {"count", fp.shard_count}}},
                                  {"regions", regions_doc},
                                  {"summary", combined_summary(summaries)}};
        doc.as_object()["summary"].as_object().erase("journal");
    } else {
        doc = std::move(regions_doc.begin()->value());
    }
    doc.as_object()["limiter"] = limiter_json(runs);
    std::string where = report.display();
    if (auto err = report.commit(json_text(doc) + "\n"); !err.empty()) {
        std::cerr << "cbsctl: " << err << "\n";
        where = "(not written: " + err + ")";
        if (status == exit_ok) status = exit_failed;
    }
    if (print.json) {
        boost::json::object out = doc.as_object().at("summary").as_object();
        out["run_id"] = runs.front().params.run_id;
        if (auto* shard = doc.as_object().if_contains("shard")) out["shard"] = *shard;
        if (several) {
            boost::json::object per;
            for (std::size_t i = 0, k = 0; i < runs.size(); ++i)
                if (results[i].report) per[runs[i].region] = summaries[k++];
            out["regions"] = std::move(per);
        } else {
            out["region"] = runs.front().region;
            out["journal"] = runs.front().params.journal_path;
        }
        out["report"] = where;
        out["exit_status"] = status;
        std::cout << json_text(out) << "\n" << std::flush;
    } else {
        for (std::size_t i = 0; i < runs.size(); ++i) {
            if (!results[i].report) continue;
            if (several) std::cerr << "cbsctl: region " << runs[i].region << ":\n";
            print_fleet_summary(std::cerr, *results[i].report, runs[i].params.journal_path, where);
        }
        const auto st = runs.front().client->stats();
        if (st.limiter != "local")
            std::cerr << "cbsctl: limiter " << st.limiter << ": " << st.limiter_shared_grants
                      << " sends paced by Redis, " << st.limiter_fallback_grants << " by the local fallback (fell back "
                      << st.limiter_fallbacks << " times)\n";
    }
    return status;
}

}  // namespace cbsctl
