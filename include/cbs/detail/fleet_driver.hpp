// cbs-async: the fleet engine's async driver, generic over the client.
//
// Thin on purpose: it does the calls the core (detail/fleet_core.hpp) asks
// for and feeds the answers back; every decision is the core's. It runs on
// one strand: discover -> plan (busy disks waited for) -> look up every
// planned name -> create (a bounded pool of workers; each send journaled and
// durable first) with a reconciler doing the batched lookups of unknown
// outcomes, and a poller waiting for NORMAL -> sweep -> report.
//
// `Client` needs what cbs::client has: async_invoke(Request,
// call_options, cbs::as_result) for DescribeDisks, DescribeSnapshotGroups,
// CreateSnapshotGroup and DeleteSnapshotGroup requests. With a
// `params()` returning client_params, the file journal's header gets the
// region, endpoint and SecretId fingerprint from it.
//
// No wait is unbounded: client calls end by their own deadlines, the
// reconciler by the consistency window, the durability of an intent by
// fleet_params::journal_timeout, waiting for NORMAL and for deletable
// duplicates by wait_timeout.
#pragma once

#include <cbs/describe_actions.hpp>
#include <cbs/detail/fleet_core.hpp>
#include <cbs/fleet.hpp>
#include <cbs/journal.hpp>
#include <cbs/paginate.hpp>
#include <cbs/retry_policy.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstddef>
#include <functional>
#include <memory>
#include <set>

namespace cbs::detail {

/// Runs every body concurrently on the current executor (the run's strand)
/// and returns when all have finished. If the awaiting coroutine is
/// cancelled, sets `stop`, cancels what each body awaits, and still waits for
/// them all (they record what became of the instance in hand). Bodies never
/// throw on cancellation; other exceptions propagate.
boost::asio::awaitable<void> fleet_run_all(std::vector<std::function<boost::asio::awaitable<void>()>> bodies,
                                           bool& stop);

/// Sleeps `d` (returns early when cancelled).
boost::asio::awaitable<void> fleet_sleep(std::chrono::steady_clock::duration d);

/// Wall-clock milliseconds (journal records).
std::int64_t fleet_unix_ms();

/// Throws cbs::error invalid_request with `what`.
[[noreturn]] void fleet_invalid(std::string what);

/// Waits until record `seq` is durable, at most `timeout`: {} or the
/// journal's error (timeout: client_errc::journal_failed). Must run on the
/// strand it posts back to.
boost::asio::awaitable<std::pair<error_code, diagnostics>> fleet_wait_durable(journal_sink& j, std::uint64_t seq,
                                                                              std::chrono::milliseconds timeout);

/// The journal for a run: params.journal, or the file at params.journal_path
/// (header from params and `cp`), or null. Throws cbs::error on failure.
std::shared_ptr<journal_sink> fleet_open_journal(const fleet_params& params, const client_params* cp,
                                                 journal_contents& existing, bool& have_existing);

template <class Client>
class fleet_driver {
public:
    using body_fn = std::function<boost::asio::awaitable<void>()>;
    static constexpr std::size_t batch = 100;  // names / ids per Describe* call

    fleet_driver(Client& c, fleet_params p, fleet_progress progress)
        : c_(c), p_(std::move(p)), progress_(std::move(progress)), core_(p_, fleet_clock::now()) {}

    fleet_report& report() { return core_.report(); }

    boost::asio::awaitable<void> run() {
        namespace asio = boost::asio;
        co_await asio::this_coro::throw_if_cancelled(false);
        if (p_.run_id.empty()) fleet_invalid("a run id is required (it makes group names unique and runs resumable)");
        if (p_.name_prefix.empty()) fleet_invalid("the group name prefix must not be empty");
        if (p_.concurrency == 0) fleet_invalid("concurrency must be at least 1");
        if (p_.consistency_window.count() <= 0) fleet_invalid("the consistency window must be positive");
        if (auto why = fleet_shard_error(p_.shard_index, p_.shard_count); !why.empty()) fleet_invalid(why);
        const client_params* cp = nullptr;
        if constexpr (requires { c_.params(); }) cp = &c_.params();
        if (!p_.plan_only) journal_ = fleet_open_journal(p_, cp, existing_, have_existing_);

        co_await discover();
        if (!stop_ && !p_.plan_only) co_await wait_busy_disks();
        if (p_.plan_only) core_.finish_planning(fleet_clock::now(), std::chrono::milliseconds(0));
        if (!stop_) co_await first_lookup();
        if (p_.plan_only) {  // a dry run ends with the plan and what already exists
            apply();
            core_.summarize(fleet_clock::now());
            co_return;
        }
        if (!stop_) {
            std::vector<body_fn> bodies;
            const std::size_t workers = std::max<std::size_t>(1, std::min(p_.concurrency, core_.size()));
            workers_left_ = workers;
            for (std::size_t w = 0; w < workers; ++w) bodies.push_back([this] { return worker(); });
            bodies.push_back([this] { return reconciler(); });
            if (p_.wait) bodies.push_back([this] { return poll_until_normal(); });
            co_await fleet_run_all(std::move(bodies), stop_);
        }
        if (stop_) {
            core_.on_stop(true, {}, fleet_clock::now());
        } else {
            co_await sweep();
        }
        apply();
        core_.summarize(fleet_clock::now());
        if (journal_) journal_->close();
    }

private:
    // ---- effects and notifications ------------------------------------------

    void apply() {
        for (auto& e : core_.take_effects()) {
            const auto& r = core_.report().instances[e.index];
            if (!e.journal_state.empty() && journal_) {
                journal_record rec;
                rec.state = e.journal_state;
                rec.instance_id = r.instance_id;
                rec.group_name = r.group_name;
                rec.group_id = e.group_id;
                rec.unix_ms = fleet_unix_ms();
                journal_->append(std::move(rec));
            }
            if (progress_) progress_(fleet_event{e.event, r.instance_id, e.detail});
        }
    }

    /// Wakes every waiting worker and the reconciler (they re-check the core).
    void notify() {
        for (auto* t : waiters_) t->cancel();
    }

    boost::asio::awaitable<void> wait_for_notice(std::chrono::steady_clock::duration bound) {
        namespace asio = boost::asio;
        asio::steady_timer t(co_await asio::this_coro::executor, bound);
        waiters_.insert(&t);
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        waiters_.erase(&t);
    }

    void journal_failed(const std::string& why) {
        if (!core_.report().journal_error.empty()) return;
        core_.on_stop(false, why, fleet_clock::now());
        apply();
        notify();
    }

    /// Whether the run was cancelled (Ctrl-C), outside fleet_run_all (which
    /// sets stop_ itself).
    boost::asio::awaitable<bool> cancelled() {
        auto cs = co_await boost::asio::this_coro::cancellation_state;
        if (cs.cancelled() != boost::asio::cancellation_type::none) stop_ = true;
        co_return stop_;
    }

    // ---- calls --------------------------------------------------------------

    /// Groups named in `names` (100 names per call, paginated).
    boost::asio::awaitable<result<std::vector<snapshot_group>>> find_by_names(const std::vector<std::string>& names) {
        result<std::vector<snapshot_group>> out;
        for (std::size_t i = 0; i < names.size(); i += batch) {
            describe_snapshot_groups_request q;
            const auto end = std::min(names.size(), i + batch);
            q.filters.push_back(
                {"snapshot-group-name",
                 {names.begin() + static_cast<std::ptrdiff_t>(i), names.begin() + static_cast<std::ptrdiff_t>(end)}});
            auto r = co_await async_describe_all_snapshot_groups(c_, std::move(q), cbs::as_result);
            if (r.ec) {
                out.ec = r.ec;
                out.diag = std::move(r.diag);
                co_return out;
            }
            for (auto& g : r.value) out.value.push_back(std::move(g));
        }
        co_return out;
    }

    boost::asio::awaitable<result<std::vector<disk>>> describe_instances(const std::vector<std::string>& ids) {
        result<std::vector<disk>> out;
        for (auto& q : disks_by_instance_batches(ids, batch)) {
            auto r = co_await async_describe_all_disks(c_, std::move(q), cbs::as_result);
            if (r.ec) {
                out.ec = r.ec;
                out.diag = std::move(r.diag);
                co_return out;
            }
            for (auto& d : r.value) out.value.push_back(std::move(d));
        }
        co_return out;
    }

    // ---- 1. discover and plan ------------------------------------------------

    boost::asio::awaitable<void> discover() {
        namespace asio = boost::asio;
        std::vector<describe_disks_request> queries;
        const bool all = p_.instance_ids.empty() && p_.all_instances;
        if (!p_.instance_ids.empty()) {
            if (auto err = core_.add_instances(p_.instance_ids); !err.empty()) fleet_invalid(err);
            std::vector<std::string> valid;
            for (const auto& r : core_.report().instances)
                if (r.outcome == instance_outcome::pending) valid.push_back(r.instance_id);
            queries = disks_by_instance_batches(valid, batch);
        } else if (p_.all_instances) {
            describe_disks_request q;
            q.filters.push_back({"disk-state", {"ATTACHED", "ATTACHING"}});
            if (p_.tag_filter) q.filters.push_back({"tag:" + p_.tag_filter->key, {p_.tag_filter->value}});
            q.limit = batch;
            queries.push_back(std::move(q));
        } else if (!p_.allow_empty) {
            fleet_invalid("no instances given (instance ids, or all instances)");
        }
        std::size_t next = 0;
        std::vector<body_fn> bodies(
            std::min<std::size_t>(8, std::max<std::size_t>(1, queries.size())), [&]() -> asio::awaitable<void> {
                co_await asio::this_coro::throw_if_cancelled(false);
                while (!stop_ && next < queries.size()) {
                    auto r = co_await async_describe_all_disks(c_, queries[next++], cbs::as_result);
                    if (stop_) co_return;
                    if (r.ec) throw error(r.ec, std::move(r.diag));  // cannot plan blind
                    core_.plan_disks(r.value, all);
                }
            });
        co_await fleet_run_all(std::move(bodies), stop_);
        // An empty shard of a fleet that is not empty is a report with nothing
        // in it: the other shards have the instances.
        if (!stop_ && core_.size() == 0 && core_.other_shards() == 0 && !p_.allow_empty)
            fleet_invalid(all ? "no instance with an attached disk was found in region " + region() +
                                    (p_.tag_filter ? " with tag " + p_.tag_filter->key : std::string()) +
                                    " (an empty fleet is an error unless allow_empty / --allow-empty)"
                              : "no instance to snapshot");
        apply();
    }

    std::string region() const {
        if constexpr (requires { c_.params(); })
            return c_.params().region;
        else
            return "?";
    }

    /// P4/P5: instances with busy disks are described again every
    /// poll_interval, up to busy_disk_wait; then planning ends.
    boost::asio::awaitable<void> wait_busy_disks() {
        const auto started = fleet_clock::now();
        for (auto busy = core_.busy_instances(); !busy.empty() && !stop_; busy = core_.busy_instances()) {
            const auto left = p_.busy_disk_wait - (fleet_clock::now() - started);
            if (left <= std::chrono::steady_clock::duration::zero()) break;
            for (const auto& id : busy)
                if (progress_) progress_(fleet_event{fleet_event::retrying, id, "waiting for busy disks"});
            co_await fleet_sleep(std::min<std::chrono::steady_clock::duration>(left, p_.poll_interval));
            if (co_await cancelled()) break;
            auto r = co_await describe_instances(busy);
            if (co_await cancelled()) break;
            if (!r.ec) core_.plan_disks(r.value, false);  // a failed poll: the next one asks again
        }
        const auto now = fleet_clock::now();
        core_.finish_planning(now, std::chrono::duration_cast<std::chrono::milliseconds>(now - started));
        core_.report().summary.discover_s = std::chrono::duration<double>(now - start_).count();
        apply();
    }

    /// A1-A4: every planned name, journal or not, before any create.
    boost::asio::awaitable<void> first_lookup() {
        auto found = co_await find_by_names(core_.names_to_look_up());
        if (co_await cancelled() || found.ec == client_errc::cancelled) {
            stop_ = true;
            co_return;
        }
        if (found.ec) throw error(found.ec, std::move(found.diag));  // unsafe to create blind
        core_.on_first_lookup(found.value, have_existing_ ? &existing_ : nullptr, fleet_clock::now(), fleet_unix_ms());
        apply();
    }

    // ---- 2. create, reconcile, wait -----------------------------------------

    boost::asio::awaitable<void> worker() {
        co_await boost::asio::this_coro::throw_if_cancelled(false);
        while (!stop_) {
            if (auto i = core_.take_ready()) {
                co_await create_one(*i);
                continue;
            }
            if (!core_.creating_active()) break;
            co_await wait_for_notice(std::chrono::milliseconds(500));
        }
        if (--workers_left_ == 0) {
            core_.report().summary.create_s =
                std::chrono::duration<double>(fleet_clock::now() - start_).count() - core_.report().summary.discover_s;
            notify();
        }
    }

    boost::asio::awaitable<void> create_one(std::size_t i) {
        const auto& r = core_.report().instances[i];
        if (journal_) {
            diagnostics jd;
            if (auto ec = journal_->failed(jd)) {
                journal_failed(jd.to_string(ec));
                co_return;
            }
            journal_record intent;
            intent.state = "intent";
            intent.instance_id = r.instance_id;
            intent.group_name = r.group_name;
            intent.unix_ms = fleet_unix_ms();
            const auto seq = journal_->append(std::move(intent));
            auto durable = co_await fleet_wait_durable(*journal_, seq, p_.journal_timeout);
            if (stop_) co_return;  // cancelled while waiting: nothing was sent (pending)
            if (durable.first) {
                journal_failed(durable.second.to_string(durable.first));
                co_return;
            }
        }
        create_snapshot_group_request req;
        req.disk_ids = r.disk_ids;
        req.snapshot_group_name = r.group_name;
        req.tags = p_.tags;
        req.tags.push_back({"cbs-fleet-run-id", p_.run_id});
        if (p_.shard_count > 1)  // which shard (host) created it: "2/3"
            req.tags.push_back(
                {"cbs-fleet-shard", std::to_string(p_.shard_index) + "/" + std::to_string(p_.shard_count)});
        call_options o;
        o.deadline = p_.busy_disk_wait;
        const std::string id = r.instance_id;
        o.on_retry = [this, id](error_class cls, std::chrono::nanoseconds, unsigned) {
            if (progress_) progress_(fleet_event{fleet_event::retrying, id, to_string(cls)});
        };
        core_.on_send(i, fleet_clock::now());
        auto res = co_await c_.async_invoke(std::move(req), o, cbs::as_result);
        const auto answer = classify_create(res.ec, res.diag, res.value.snapshot_group_id);
        core_.on_create_answer(i, answer, res.diag.attempts, res.diag.request_ids, fleet_clock::now());
        apply();
        if (core_.state(i).phase == fleet_phase::refresh) {  // C3
            std::vector<std::string> ids(1, id);
            auto d = co_await describe_instances(ids);
            core_.on_disks_refreshed(i, d.ec ? std::vector<disk>{} : d.value, answer, fleet_clock::now());
            apply();
        }
        notify();
    }

    /// Batched lookups of the names whose outcome is unknown, and the end of
    /// busy retry waits.
    boost::asio::awaitable<void> reconciler() {
        co_await boost::asio::this_coro::throw_if_cancelled(false);
        while (!stop_) {
            auto now = fleet_clock::now();
            bool woke = !core_.wake_retries(now).empty();
            auto due = core_.due_lookups(now);
            for (std::size_t k = 0; k < due.size() && !stop_; k += batch) {
                const auto end = std::min(due.size(), k + batch);
                std::vector<std::string> chunk(due.begin() + static_cast<std::ptrdiff_t>(k),
                                               due.begin() + static_cast<std::ptrdiff_t>(end));
                auto found = co_await find_by_names(chunk);
                const std::string why = found.ec ? found.diag.to_string(found.ec) : std::string();
                woke |= !core_.on_lookup(chunk, !found.ec, found.value, why, fleet_clock::now()).empty();
                apply();
            }
            if (woke) notify();
            if (!core_.creating_active() && workers_left_ == 0) break;
            auto bound = std::chrono::steady_clock::duration(std::chrono::milliseconds(500));
            if (auto next = core_.next_due()) bound = std::min(bound, *next - fleet_clock::now());
            if (bound > std::chrono::steady_clock::duration::zero()) co_await wait_for_notice(bound);
        }
    }

    /// Polls the created groups by id until NORMAL; ends when creating is
    /// done and nothing is left to poll, or wait_timeout after creating ended.
    boost::asio::awaitable<void> poll_until_normal() {
        co_await boost::asio::this_coro::throw_if_cancelled(false);
        std::optional<fleet_time> deadline;
        while (!stop_) {
            if (workers_left_ == 0 && !deadline) deadline = fleet_clock::now() + p_.wait_timeout;
            auto ids = core_.ids_to_poll();
            if (ids.empty() && workers_left_ == 0) co_return;
            if (deadline && fleet_clock::now() >= *deadline) co_return;
            for (auto& q : snapshot_groups_by_id_batches(ids, batch)) {
                auto res = co_await async_describe_all_snapshot_groups(c_, std::move(q), cbs::as_result);
                if (stop_) co_return;
                if (!res.ec) core_.on_listed(res.value, fleet_clock::now());  // else: the next round asks again
                apply();
            }
            // An id never listed a window after its answer: is another group
            // listed under its name (W4: another run's sweep deleted ours)?
            if (auto names = core_.unseen_names(fleet_clock::now()); !names.empty()) {
                auto found = co_await find_by_names(names);
                if (stop_) co_return;
                if (!found.ec) co_await decide_and_delete(found.value);
            }
            co_await fleet_sleep(p_.poll_interval);
            if (co_await cancelled()) co_return;
        }
    }

    // ---- 3. sweep -------------------------------------------------------------

    /// W1-W6 over a listing by names, and the deletions it decides (D1-D3).
    boost::asio::awaitable<void> decide_and_delete(const std::vector<snapshot_group>& groups) {
        auto decision = core_.sweep_decide(groups, fleet_clock::now());
        apply();
        for (const auto& d : decision.deletes) {
            delete_snapshot_group_request del;
            del.snapshot_group_ids = {d.group_id};
            auto res = co_await c_.async_invoke(std::move(del), call_options{}, cbs::as_result);
            core_.on_delete_answer(d.index, d.group_id, res.ec, res.diag, fleet_clock::now());
            apply();
        }
    }

    boost::asio::awaitable<void> sweep() {
        namespace asio = boost::asio;
        co_await asio::this_coro::throw_if_cancelled(false);
        // Wait until every create is listed: the window (or the longest lag
        // seen, plus a poll) after the last send.
        const auto not_before = core_.sweep_not_before(p_.poll_interval);
        if (auto now = fleet_clock::now(); now < not_before) co_await fleet_sleep(not_before - now);
        if (co_await cancelled()) co_return core_.on_stop(true, {}, fleet_clock::now());
        const auto give_up = fleet_clock::now() + p_.wait_timeout;
        unsigned failures = 0;
        for (;;) {
            auto found = co_await find_by_names(core_.sweep_names());
            if (co_await cancelled()) co_return core_.on_stop(true, {}, fleet_clock::now());
            if (found.ec) {
                if (++failures >= 3 || fleet_clock::now() >= give_up) {
                    core_.report().sweep_error =
                        "the final sweep could not list the run's groups: " + found.diag.to_string(found.ec);
                    co_return;
                }
                co_await fleet_sleep(p_.poll_interval);
                continue;
            }
            co_await decide_and_delete(found.value);
            if (!core_.duplicates_outstanding()) break;
            if (fleet_clock::now() >= give_up) {
                core_.sweep_gave_up("not deletable (still CREATING) within wait_timeout");
                break;
            }
            co_await fleet_sleep(p_.poll_interval);  // CREATING duplicates cannot be deleted yet
            if (co_await cancelled()) co_return core_.on_stop(true, {}, fleet_clock::now());
        }
        // Groups the sweep adopted may still be CREATING.
        if (p_.wait && !core_.ids_to_poll().empty()) {
            workers_left_ = 0;
            co_await poll_until_normal();
        }
        apply();
    }

    Client& c_;
    fleet_params p_;
    fleet_progress progress_;
    fleet_core core_;
    fleet_time start_ = fleet_clock::now();
    std::shared_ptr<journal_sink> journal_;
    journal_contents existing_;
    bool have_existing_ = false;
    bool stop_ = false;  // cancelled: no new work; what is in flight is recorded
    std::size_t workers_left_ = 1;
    std::set<boost::asio::steady_timer*> waiters_;
};

template <class Client>
boost::asio::awaitable<void> fleet_run_driver(std::shared_ptr<fleet_driver<Client>> d) {
    co_await d->run();
}

/// async_snapshot_fleet for any client type (see the top of this file).
template <class Client>
boost::asio::awaitable<fleet_report> async_snapshot_fleet_with(Client& c, fleet_params params,
                                                               fleet_progress progress = {}) {
    namespace asio = boost::asio;
    auto d = std::make_shared<fleet_driver<Client>>(c, std::move(params), std::move(progress));
    // Everything of one run on one strand: the core is not thread-safe.
    auto strand = asio::make_strand(co_await asio::this_coro::executor);
    co_await asio::co_spawn(strand, fleet_run_driver(d), asio::use_awaitable);
    co_return std::move(d->report());
}

}  // namespace cbs::detail
