// The fleet engine: discover → plan → create (reconciled) → wait → report.
// See include/cbs/fleet.hpp for the contract and DESIGN.md for the why.
#include <cbs/describe_actions.hpp>
#include <cbs/fleet.hpp>
#include <cbs/journal.hpp>
#include <cbs/paginate.hpp>
#include <cbs/retry_policy.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <functional>
#include <set>
#include <unordered_map>

namespace cbs {
namespace {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;
constexpr std::size_t batch_size = 100;  // ids per Describe* call (the documented page maximum)
constexpr int max_create_rounds = 10;    // sends of one create whose outcomes stayed unknown

bool is_valid_instance_id(std::string_view id) {
    if (id.size() != 12 || id.substr(0, 4) != "ins-") return false;
    return std::all_of(id.begin() + 4, id.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
}

[[noreturn]] void invalid(std::string what) {
    diagnostics diag;
    diag.client_message = std::move(what);
    throw error(client_errc::invalid_request, std::move(diag));
}

using body_fn = std::function<asio::awaitable<void>()>;

/// Runs every body concurrently on the current executor (the run's strand)
/// and returns when all have finished. If the awaiting coroutine is cancelled
/// (Ctrl-C), sets `stop`, cancels what each body is awaiting, and still waits
/// for them all: they record what became of the instance in hand. The bodies
/// never throw on cancellation (throw_if_cancelled is off in each); they look
/// at `stop`. Other exceptions propagate.
asio::awaitable<void> run_all(std::vector<body_fn> bodies, bool& stop) {
    co_await asio::this_coro::throw_if_cancelled(false);
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer all_done(ex, steady::time_point::max());
    std::size_t running = bodies.size();
    std::exception_ptr first_error;
    std::vector<asio::cancellation_signal> signals(bodies.size());
    for (std::size_t i = 0; i < bodies.size(); ++i)
        asio::co_spawn(ex, bodies[i](), asio::bind_cancellation_slot(signals[i].slot(), [&](std::exception_ptr e) {
            if (e && !first_error) first_error = e;
            if (--running == 0) all_done.cancel();
        }));
    while (running > 0) {
        co_await all_done.async_wait(asio::as_tuple(asio::use_awaitable));
        if (running > 0 && !stop) {  // only a cancellation wakes us early
            stop = true;
            for (auto& s : signals) s.emit(asio::cancellation_type::terminal);
        }
        co_await asio::this_coro::reset_cancellation_state();
    }
    if (first_error) std::rethrow_exception(first_error);
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
}

struct engine {
    engine(client& cl, fleet_params params, fleet_progress prog)
        : c(cl), p(std::move(params)), progress(std::move(prog)) {}

    client& c;
    fleet_params p;
    fleet_progress progress;
    fleet_report report;
    std::unordered_map<std::string, std::size_t> by_instance, by_group;
    journal_writer journal;
    journal_contents resumed;
    steady::time_point start = steady::now();
    bool creating_done = false;
    bool stop = false;            // Ctrl-C: no new work; what is in flight is recorded
    std::size_t creators_left = 0;

    double since_start() const { return std::chrono::duration<double>(steady::now() - start).count(); }

    void emit(fleet_event::kind k, std::string_view id, std::string_view detail = {}) {
        if (progress) progress(fleet_event{k, id, detail});
    }

    void journal_record(std::string_view state, const instance_report& r) {
        diagnostics diag;
        if (auto ec = journal.record(state, r.instance_id, r.group_name, r.group_id, diag))
            throw error(ec, std::move(diag));  // a run that cannot journal must not go on creating
    }

    // ---- 1. discover and plan ------------------------------------------------

    void plan(const std::vector<disk>& disks) {
        for (const auto& d : disks) {
            auto it = by_instance.find(d.instance_id);
            if (it == by_instance.end()) {
                if (!p.instance_ids.empty()) continue;  // not one of ours
                it = by_instance.emplace(d.instance_id, report.instances.size()).first;
                report.instances.push_back({});
                report.instances.back().instance_id = d.instance_id;
            }
            auto& r = report.instances[it->second];
            if (!d.snapshot_ability)
                r.skipped_disks.push_back({d.disk_id, "SnapshotAbility is false"});
            else if (p.data_disks_only && d.disk_usage == "SYSTEM_DISK")
                r.skipped_disks.push_back({d.disk_id, "system disk (data disks only)"});
            else if (d.disk_state != "ATTACHED")
                r.skipped_disks.push_back({d.disk_id, "disk state " + d.disk_state});
            else if (std::find(r.disk_ids.begin(), r.disk_ids.end(), d.disk_id) == r.disk_ids.end())
                r.disk_ids.push_back(d.disk_id);
        }
    }

    asio::awaitable<void> discover() {
        std::vector<describe_disks_request> queries;
        if (!p.instance_ids.empty()) {
            std::set<std::string_view> seen;
            std::vector<std::string> valid;
            for (const auto& id : p.instance_ids) {
                if (!seen.insert(id).second) invalid("instance id '" + id + "' is listed twice");
                by_instance.emplace(id, report.instances.size());
                report.instances.push_back({});
                auto& r = report.instances.back();
                r.instance_id = id;
                if (is_valid_instance_id(id)) {
                    valid.push_back(id);
                } else {
                    r.outcome = instance_outcome::failed;
                    r.error_code = "InvalidInstanceId.Malformed";
                    r.error_message = "'" + id + "' is not an instance id (ins- and 8 lower-case letters or digits)";
                }
            }
            queries = disks_by_instance_batches(valid, batch_size);
        } else if (p.all_instances) {
            describe_disks_request q;
            q.filters.push_back({"disk-state", {"ATTACHED"}});
            if (p.tag_filter) q.filters.push_back({"tag:" + p.tag_filter->key, {p.tag_filter->value}});
            q.limit = batch_size;
            queries.push_back(std::move(q));
        } else {
            invalid("no instances given (instance ids, or all instances)");
        }

        std::size_t next = 0;
        std::vector<body_fn> bodies(std::min<std::size_t>(8, std::max<std::size_t>(1, queries.size())),
                                    [&]() -> asio::awaitable<void> {
            co_await asio::this_coro::throw_if_cancelled(false);
            while (!stop && next < queries.size()) {
                auto r = co_await async_describe_all_disks(c, queries[next++], std::nothrow);
                if (stop) co_return;
                if (r.ec) throw error(r.ec, std::move(r.diag));  // cannot plan without the disks
                plan(r.value);
            }
        });
        co_await run_all(std::move(bodies), stop);
        if (stop) co_return;  // an incomplete discovery plans nothing

        for (auto& r : report.instances) {
            r.group_name = fleet_group_name(p, r.instance_id);
            if (r.outcome != instance_outcome::pending) continue;
            if (r.disk_ids.empty() && r.skipped_disks.empty()) {
                r.outcome = instance_outcome::failed;
                r.error_code = "InvalidInstanceId.NotFound";
                r.error_message = "no disk is attached to " + r.instance_id + " in this region";
                emit(fleet_event::failed, r.instance_id, r.error_code);
            } else if (r.disk_ids.empty()) {
                r.outcome = instance_outcome::skipped;
                r.error_message = "no disk of this instance can be snapshotted";
                emit(fleet_event::skipped, r.instance_id, r.error_message);
            } else {
                emit(fleet_event::planned, r.instance_id, r.group_name);
            }
        }
        report.summary.discover_s = since_start();
    }

    // ---- 2. reconcile (resume) and create -----------------------------------

    void mark_created(instance_report& r, const std::string& group_id, bool adopted, const std::string& state) {
        r.group_id = group_id;
        r.adopted = adopted;
        r.group_state = state.empty() ? "CREATING" : state;
        r.outcome = instance_outcome::created;
        r.created_s = since_start();
        by_group[group_id] = static_cast<std::size_t>(&r - report.instances.data());
        journal_record("created", r);
        emit(adopted ? fleet_event::adopted : fleet_event::created, r.instance_id, group_id);
        if (r.group_state == "NORMAL") mark_normal(r);
    }

    void mark_normal(instance_report& r) {
        r.group_state = "NORMAL";
        r.outcome = instance_outcome::normal;
        r.normal_s = since_start();
        journal_record("normal", r);
        emit(fleet_event::normal, r.instance_id, r.group_id);
    }

    /// Groups named in `names` (one call per 100 names, paginated).
    asio::awaitable<result<std::vector<snapshot_group>>> find_by_names(std::vector<std::string> names) {
        result<std::vector<snapshot_group>> out;
        for (std::size_t i = 0; i < names.size(); i += batch_size) {
            describe_snapshot_groups_request q;
            q.filters.push_back({"snapshot-group-name",
                                 {names.begin() + i, names.begin() + std::min(names.size(), i + batch_size)}});
            auto r = co_await async_describe_all_snapshot_groups(c, std::move(q), std::nothrow);
            if (r.ec) {
                out.ec = r.ec;
                out.diag = std::move(r.diag);
                co_return out;
            }
            for (auto& g : r.value) out.value.push_back(std::move(g));
        }
        co_return out;
    }

    /// Adopts, for each pending instance, the group that carries its name.
    void adopt(const std::vector<snapshot_group>& groups) {
        std::unordered_map<std::string, const snapshot_group*> by_name;
        for (const auto& g : groups) {
            auto [it, fresh] = by_name.emplace(g.name, &g);
            if (fresh) continue;
            // Two groups with one run's name (made by something else than this
            // engine): report it on the instance, adopt the first.
            if (auto owner = by_instance.find(instance_of(g.name)); owner != by_instance.end())
                report.instances[owner->second].error_message = "more than one group is named " + g.name + ": " +
                                                                it->second->snapshot_group_id + ", " +
                                                                g.snapshot_group_id;
        }
        for (auto& r : report.instances) {
            if (r.outcome != instance_outcome::pending) continue;
            if (auto it = by_name.find(r.group_name); it != by_name.end())
                mark_created(r, it->second->snapshot_group_id, true, it->second->state);
        }
    }

    std::string instance_of(const std::string& group_name) const {
        // <prefix>-<ins-xxxxxxxx>-<run>: the prefix may contain '-', the instance id is fixed-size.
        auto pos = p.name_prefix.size() + 1;
        return group_name.substr(pos, 12);
    }

    /// Before creating anything in a resumed run: every planned name is
    /// looked up, so what a killed run created is adopted, not created again.
    asio::awaitable<void> reconcile_resumed() {
        std::vector<std::string> names;
        for (const auto& r : report.instances)
            if (r.outcome == instance_outcome::pending) names.push_back(r.group_name);
        auto found = co_await find_by_names(std::move(names));
        if (found.ec == client_errc::cancelled) {
            stop = true;
            co_return;
        }
        if (found.ec) throw error(found.ec, std::move(found.diag));  // unsafe to create blind
        adopt(found.value);
    }

    enum class lookup { found, absent, failed };

    /// Looks for a group by name three times, a second apart (a group just
    /// created may take a moment to be listed); adopts it if found.
    asio::awaitable<lookup> look_up(const std::string& name) {
        for (int look = 0; look < 3; ++look) {
            if (look > 0) co_await sleep_for(std::chrono::seconds(1));
            std::vector<std::string> names{name};
            auto found = co_await find_by_names(std::move(names));
            if (found.ec) co_return lookup::failed;
            if (!found.value.empty()) {
                adopt(found.value);
                co_return lookup::found;
            }
        }
        co_return lookup::absent;
    }

    asio::awaitable<void> create_one(instance_report& r) {
        create_snapshot_group_request req;
        req.disk_ids = r.disk_ids;
        req.snapshot_group_name = r.group_name;
        req.tags = p.tags;
        req.tags.push_back({"cbs-fleet-run-id", p.run_id});
        call_options o;
        o.deadline = p.instance_deadline;
        o.on_retry = [this, &r](error_class cls, std::chrono::nanoseconds, unsigned) {
            emit(fleet_event::retrying, r.instance_id, to_string(cls));
        };
        bool ambiguous = false;
        // Each round: send; if the outcome is unknown, look the name up and
        // send again only if absent. Bounded by rounds and the instance deadline.
        const auto give_up = steady::now() + p.instance_deadline;
        for (int round = 0; round < max_create_rounds && steady::now() < give_up; ++round) {
            auto res = co_await c.async_invoke(req, std::nothrow, o);
            r.attempts += res.diag.attempts;
            r.request_ids.insert(r.request_ids.end(), res.diag.request_ids.begin(), res.diag.request_ids.end());
            if (!res.ec) {
                mark_created(r, res.value.snapshot_group_id, false, {});
                co_return;
            }
            if (stop) {
                // Stopping: nothing sent stays pending (a re-run creates it);
                // an answer lost is recorded unknown (a re-run looks it up first).
                if (res.ec == client_errc::outcome_unknown || ambiguous) break;
                co_return;
            }
            const bool busy = classify(res.ec, false, res.diag.server_code) == error_class::busy;
            if (res.ec != client_errc::outcome_unknown && !(ambiguous && busy)) {
                // A clear failure (busy past the deadline included): nothing was created.
                r.outcome = instance_outcome::failed;
                r.error_code = res.diag.server_code.empty() ? res.ec.message() : res.diag.server_code;
                r.error_message = res.diag.to_string(res.ec);
                journal_record("failed", r);
                emit(fleet_event::failed, r.instance_id, r.error_code);
                co_return;
            }
            // The create may have landed (or, busy after an ambiguous send, our
            // own earlier send is what keeps the disk busy): look before resending.
            ambiguous = true;
            const auto look = co_await look_up(r.group_name);
            if (look == lookup::found) co_return;
            if (look == lookup::failed || stop) break;  // cannot tell: do not resend blind
            // Not there after three looks: send again.
        }
        r.outcome = instance_outcome::unknown;
        r.error_code = "OutcomeUnknown";
        r.error_message = "CreateSnapshotGroup was sent but its outcome could not be confirmed; look for a group named " +
                          r.group_name + " before creating another";
        journal_record("unknown", r);
        emit(fleet_event::unknown, r.instance_id, r.group_name);
    }

    // ---- 3. wait ------------------------------------------------------------

    asio::awaitable<void> poll_until_normal() {
        co_await asio::this_coro::throw_if_cancelled(false);
        const auto give_up_after = p.wait_timeout;
        std::optional<steady::time_point> deadline;
        while (!stop) {
            if (creating_done && !deadline) deadline = steady::now() + give_up_after;
            std::vector<std::string> ids;
            for (const auto& r : report.instances)
                if (r.outcome == instance_outcome::created) ids.push_back(r.group_id);
            if (ids.empty() && creating_done) co_return;
            if (deadline && steady::now() >= *deadline) co_return;
            for (auto& q : snapshot_groups_by_id_batches(ids, batch_size)) {
                auto res = co_await async_describe_all_snapshot_groups(c, std::move(q), std::nothrow);
                if (stop) co_return;
                if (res.ec) continue;  // the next round asks again
                for (const auto& g : res.value) {
                    auto it = by_group.find(g.snapshot_group_id);
                    if (it == by_group.end()) continue;
                    auto& r = report.instances[it->second];
                    r.group_state = g.state;
                    if (g.state == "NORMAL" && r.outcome == instance_outcome::created) mark_normal(r);
                }
            }
            co_await sleep_for(p.poll_interval);
        }
    }

    // ---- the run ------------------------------------------------------------

    asio::awaitable<void> run() {
        // Cancellation is handled by hand (see run_all): never thrown.
        co_await asio::this_coro::throw_if_cancelled(false);
        if (p.run_id.empty()) invalid("a run id is required (it makes group names unique and runs resumable)");
        if (p.name_prefix.empty()) invalid("the group name prefix must not be empty");
        if (p.concurrency == 0) invalid("concurrency must be at least 1");
        report.run_id = p.run_id;
        diagnostics diag;
        if (!p.journal_path.empty()) {
            if (auto ec = read_journal(p.journal_path, resumed, diag)) throw error(ec, std::move(diag));
            if (!resumed.run_id.empty() && resumed.run_id != p.run_id)
                invalid("journal '" + p.journal_path + "' belongs to run '" + resumed.run_id + "', not '" + p.run_id + "'");
            if (auto ec = journal.open(p.journal_path, p.run_id, p.name_prefix, diag)) throw error(ec, std::move(diag));
        }
        co_await discover();
        if (!stop && resumed.records > 0) co_await reconcile_resumed();
        if (stop) {
            summarize();
            co_return;
        }

        // The creators and the poller run together: groups become NORMAL
        // while later instances are still being created.
        std::size_t next = 0;
        creators_left = std::max<std::size_t>(1, std::min(p.concurrency, report.instances.size()));
        std::vector<body_fn> bodies(creators_left, [&]() -> asio::awaitable<void> {
            co_await asio::this_coro::throw_if_cancelled(false);
            while (!stop && next < report.instances.size()) {
                auto& r = report.instances[next++];
                if (r.outcome == instance_outcome::pending) co_await create_one(r);
            }
            if (--creators_left == 0) {
                creating_done = true;
                report.summary.create_s = since_start() - report.summary.discover_s;
            }
        });
        if (p.wait) bodies.push_back([this] { return poll_until_normal(); });
        co_await run_all(std::move(bodies), stop);
        summarize();
    }

    void summarize() {
        auto& s = report.summary;
        s.instances = report.instances.size();
        for (const auto& r : report.instances) {
            switch (r.outcome) {
            case instance_outcome::pending: ++s.pending; break;
            case instance_outcome::skipped: ++s.skipped; break;
            case instance_outcome::created: ++s.created; break;
            case instance_outcome::normal: ++s.normal; break;
            case instance_outcome::failed: ++s.failed; break;
            case instance_outcome::unknown: ++s.unknown; break;
            }
            s.adopted += r.adopted;
        }
        s.total_s = since_start();
        report.all_ok = s.failed == 0 && s.unknown == 0 && s.pending == 0 && (!p.wait || s.created == 0);
    }
};

/// A named coroutine, not a capturing lambda: GCC 12 copies a temporary
/// lambda passed to co_spawn into the coroutine frame bitwise, so a captured
/// shared_ptr would be released twice (seen with ASan).
asio::awaitable<void> run_engine(std::shared_ptr<engine> e) {
    co_await e->run();
}

}  // namespace

asio::awaitable<fleet_report> async_snapshot_fleet(client& c, fleet_params params, fleet_progress progress) {
    auto e = std::make_shared<engine>(c, std::move(params), std::move(progress));
    // Everything of one run on one strand: workers share the report.
    auto strand = asio::make_strand(co_await asio::this_coro::executor);
    co_await asio::co_spawn(strand, run_engine(e), asio::use_awaitable);
    co_return std::move(e->report);
}

}  // namespace cbs
