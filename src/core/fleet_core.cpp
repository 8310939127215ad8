// The fleet core: planning, the first lookup, create outcomes and
// reconciliation. The sweep, the waiting and the summary are in
// fleet_sweep.cpp. Rows of the decision table (detail/fleet_core.hpp) are
// named in comments.
#include <cbs/detail/fleet_core.hpp>
#include <cbs/journal.hpp>
#include <cbs/retry_policy.hpp>

#include <algorithm>

namespace cbs::detail {

namespace {

bool is_valid_instance_id(std::string_view id) {
    if (id.size() != 12 || id.substr(0, 4) != "ins-") return false;
    return std::all_of(id.begin() + 4, id.end(),
                       [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
}

std::string seconds_text(std::chrono::milliseconds d) {
    auto ms = d.count();
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
    return std::to_string(ms) + " ms";
}

/// Why a disk cannot be snapshotted now but may be soon ("" if not busy).
std::string busy_reason(const planned_disk& d) {
    if (d.migrating) return "migrating (" + std::to_string(d.migrate_percent) + "%)";
    if (d.rollbacking || d.disk_state == "ROLLBACKING")
        return "rolling back from a snapshot (" + std::to_string(d.rollback_percent) + "%)";
    if (d.disk_state == "ATTACHING") return "attaching";
    return {};
}

bool is_disk_busy_code(std::string_view code) {
    return code == "ResourceInUse.DiskMigrating" || code == "ResourceInUse.DiskRollbacking";
}

}  // namespace

std::string_view to_string(fleet_phase p) noexcept {
    switch (p) {
        case fleet_phase::planning:
            return "planning";
        case fleet_phase::lookup:
            return "lookup";
        case fleet_phase::ready:
            return "ready";
        case fleet_phase::sending:
            return "sending";
        case fleet_phase::reconciling:
            return "reconciling";
        case fleet_phase::retry_wait:
            return "retry_wait";
        case fleet_phase::refresh:
            return "refresh";
        case fleet_phase::created:
            return "created";
        case fleet_phase::done:
            return "done";
    }
    return "?";
}

create_answer classify_create(const error_code& ec, const diagnostics& diag, const std::string& group_id) {
    create_answer a;
    if (!ec) {
        a.kind = create_answer::ok;
        a.group_id = group_id;
        return a;
    }
    a.code = diag.server_code.empty() ? std::string(ec.message()) : diag.server_code;
    a.message = diag.to_string(ec);
    if (ec == client_errc::outcome_unknown)
        a.kind = create_answer::unknown;
    else if (ec == client_errc::cancelled)
        a.kind = create_answer::cancelled;
    else if (classify(ec, false, diag.server_code) == error_class::busy)
        a.kind = create_answer::busy;
    else
        a.kind = create_answer::failed;
    return a;
}

fleet_core::fleet_core(const fleet_params& params, fleet_time start) : p_(params), start_(start) {
    p_.journal.reset();  // the core never writes: the driver does
    report_.run_id = p_.run_id;
    report_.shard_index = p_.shard_index;
    report_.shard_count = p_.shard_count;
}

bool fleet_core::in_shard(std::string_view instance_id) const noexcept {
    return fleet_shard_of(instance_id, p_.shard_count) == p_.shard_index;
}

std::size_t fleet_core::find(std::string_view instance_id) const {
    auto it = by_instance_.find(std::string(instance_id));
    return it == by_instance_.end() ? npos : it->second;
}

std::vector<core_effect> fleet_core::take_effects() {
    return std::exchange(effects_, {});
}

double fleet_core::since_start(fleet_time now) const {
    return std::chrono::duration<double>(now - start_).count();
}

void fleet_core::emit(std::size_t i, fleet_event::kind k, std::string detail, std::string journal_state) {
    core_effect e;
    e.index = i;
    e.event = k;
    e.detail = std::move(detail);
    e.journal_state = std::move(journal_state);
    e.group_id = report_.instances[i].group_id;
    effects_.push_back(std::move(e));
}

// ---- planning ---------------------------------------------------------------

std::string fleet_core::add_instances(const std::vector<std::string>& ids) {
    for (const auto& id : ids) {
        if (by_instance_.count(id) || other_shards_.count(id)) return "instance id '" + id + "' is listed twice";
        ++report_.listed_instances;
        if (!in_shard(id)) {  // another shard's: counted, never planned
            other_shards_.insert(id);
            continue;
        }
        const std::size_t i = report_.instances.size();
        by_instance_.emplace(id, i);
        report_.instances.push_back({});
        st_.push_back({});
        auto& r = report_.instances.back();
        r.instance_id = id;
        r.group_name = fleet_group_name(p_, id);
        by_name_.emplace(r.group_name, i);
        if (!is_valid_instance_id(id)) {  // P9
            r.outcome = instance_outcome::failed;
            r.error_name = "InvalidInstanceId.Malformed";
            r.error_message = "'" + id + "' is not an instance id (ins- and 8 lower-case letters or digits)";
            st_.back().phase = fleet_phase::done;
        }
    }
    return {};
}

void fleet_core::plan_disks(const std::vector<disk>& disks, bool discover_all) {
    std::vector<std::size_t> touched;
    for (const auto& d : disks) {
        std::size_t i = find(d.instance_id);
        if (i == npos) {
            if (!discover_all || d.instance_id.empty()) continue;  // not one of ours
            if (other_shards_.count(d.instance_id)) continue;      // another shard's, counted already
            add_instances({d.instance_id});
            i = find(d.instance_id);
            if (i == npos) continue;  // another shard's
        }
        if (st_[i].phase != fleet_phase::planning && st_[i].phase != fleet_phase::refresh) continue;
        if (std::find(touched.begin(), touched.end(), i) == touched.end()) {
            touched.push_back(i);
            st_[i].disks.clear();
        }
        auto& v = st_[i].disks;
        if (std::none_of(v.begin(), v.end(), [&](const planned_disk& o) { return o.disk_id == d.disk_id; }))
            v.push_back(planned_disk::from(d));
    }
    for (auto i : touched) replan(i, false, {});
}

std::size_t fleet_core::replan(std::size_t i, bool final, const std::string& why_final) {
    auto& r = report_.instances[i];
    auto& s = st_[i];
    r.disk_ids.clear();
    r.skipped_disks.clear();
    s.busy = false;
    std::size_t busy_skipped = 0;
    for (const auto& d : s.disks) {
        if (!d.snapshot_ability) {  // P1
            r.skipped_disks.push_back({d.disk_id, "SnapshotAbility is false"});
        } else if (p_.data_disks_only && d.system_disk) {  // P2
            r.skipped_disks.push_back({d.disk_id, "system disk (data disks only)"});
        } else if (auto why = busy_reason(d); !why.empty()) {  // P4 / P5
            if (final) {
                std::string reason = "disk ";
                reason += why;
                reason += why_final;
                r.skipped_disks.push_back({d.disk_id, std::move(reason)});
                ++busy_skipped;
            } else {
                s.busy = true;
            }
        } else if (d.disk_state != "ATTACHED") {  // P3
            r.skipped_disks.push_back({d.disk_id, "disk state " + d.disk_state});
        } else {
            r.disk_ids.push_back(d.disk_id);
        }
    }
    return busy_skipped;
}

std::vector<std::string> fleet_core::busy_instances() const {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < size(); ++i)
        if (st_[i].phase == fleet_phase::planning && st_[i].busy) out.push_back(report_.instances[i].instance_id);
    return out;
}

void fleet_core::finish_planning(fleet_time /*now*/, std::chrono::milliseconds waited) {
    const std::string why = "; still so after waiting " + seconds_text(waited) + " (busy_disk_wait " +
                            seconds_text(p_.busy_disk_wait) + ")";
    for (std::size_t i = 0; i < size(); ++i) {
        if (st_[i].phase != fleet_phase::planning) continue;
        auto& r = report_.instances[i];
        const std::size_t busy = replan(i, true, why);
        if (!r.disk_ids.empty()) {
            st_[i].phase = fleet_phase::lookup;
            emit(i, fleet_event::planned, r.group_name);
        } else if (busy > 0) {  // P6
            fail(i, "ResourceInUse.DiskBusy",
                 "no disk of " + r.instance_id +
                     " can be snapshotted now: every snapshotable disk is busy "
                     "(see skipped_disks)");
        } else if (!r.skipped_disks.empty()) {  // P7
            r.outcome = instance_outcome::skipped;
            r.error_message = "no disk of this instance can be snapshotted";
            st_[i].phase = fleet_phase::done;
            emit(i, fleet_event::skipped, r.error_message, "skipped");
        } else {  // P8
            fail(i, "InvalidInstanceId.NotFound", "no disk is attached to " + r.instance_id + " in this region");
        }
    }
}

std::vector<std::string> fleet_core::names_to_look_up() const {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < size(); ++i)
        if (st_[i].phase == fleet_phase::lookup) out.push_back(report_.instances[i].group_name);
    return out;
}

std::vector<const snapshot_group*> fleet_core::exact(const std::vector<snapshot_group>& groups, std::size_t i) const {
    const auto& r = report_.instances[i];
    std::vector<const snapshot_group*> out;
    for (const auto& g : groups) {
        if (g.name != r.group_name) continue;  // the name filter may match more than the exact name
        const auto& jd = st_[i].journal_deleted;
        if (std::find(r.deleted_group_ids.begin(), r.deleted_group_ids.end(), g.snapshot_group_id) !=
                r.deleted_group_ids.end() ||
            std::find(jd.begin(), jd.end(), g.snapshot_group_id) != jd.end())
            continue;
        if (std::none_of(out.begin(), out.end(),
                         [&](const snapshot_group* o) { return o->snapshot_group_id == g.snapshot_group_id; }))
            out.push_back(&g);
    }
    // Oldest first: CreateTime ("YYYY-MM-DD hh:mm:ss" sorts as text), then the
    // group id. Never "the one this run recorded" first: two runs sweeping
    // the same name must keep the same group, or each deletes the other's.
    std::sort(out.begin(), out.end(), [](const snapshot_group* a, const snapshot_group* b) {
        if (a->create_time != b->create_time) return a->create_time < b->create_time;
        return a->snapshot_group_id < b->snapshot_group_id;
    });
    return out;
}

void fleet_core::on_first_lookup(const std::vector<snapshot_group>& groups, const journal_contents* journal,
                                 fleet_time now, std::int64_t now_unix_ms) {
    on_listed(groups, now);
    for (std::size_t i = 0; i < size(); ++i) {
        if (st_[i].phase != fleet_phase::lookup) continue;
        auto& r = report_.instances[i];
        const journal_entry* e = nullptr;
        if (journal)
            if (auto it = journal->instances.find(r.instance_id); it != journal->instances.end()) e = &it->second;
        if (e) {
            st_[i].journaled_intents = e->intents;
            st_[i].resends = e->intents > 0 ? e->intents - 1 : 0;
            r.sends = e->intents;
            st_[i].journal_deleted = e->deleted_group_ids;
        }
        auto found = exact(groups, i);
        if (!found.empty()) {  // A1
            mark_created(i, found.front(), found.front()->snapshot_group_id, true, now);
        } else if (e && !e->group_id.empty()) {  // A2
            mark_created(i, nullptr, e->group_id, true, now);
        } else if (e && e->intents > 0) {  // A3
            st_[i].ambiguous = true;
            start_window(i, now);
            // The window runs from the journaled send: an old intent has had it.
            const auto age = std::chrono::milliseconds(std::max<std::int64_t>(0, now_unix_ms - e->last_intent_unix_ms));
            if (age >= p_.consistency_window) {
                st_[i].window_end = now;
                st_[i].next_look = now;
                on_lookup({r.group_name}, true, groups, {}, now);
            } else {
                st_[i].window_end = now + (p_.consistency_window - age);
            }
        } else {  // A4
            make_ready(i);
        }
    }
}

// ---- creating ---------------------------------------------------------------

void fleet_core::make_ready(std::size_t i) {
    st_[i].phase = fleet_phase::ready;
    ready_.push_back(i);
}

std::optional<std::size_t> fleet_core::take_ready() {
    while (!stopping_ && !ready_.empty()) {
        const std::size_t i = ready_.front();
        ready_.pop_front();
        if (st_[i].phase == fleet_phase::ready) return i;
    }
    return std::nullopt;
}

void fleet_core::on_send(std::size_t i, fleet_time now) {
    st_[i].phase = fleet_phase::sending;
    st_[i].last_send = now;
    ++report_.instances[i].sends;
    last_send_ = now;
}

bool fleet_core::sends_left(std::size_t i) const {
    return st_[i].resends < p_.max_resends;
}

void fleet_core::start_window(std::size_t i, fleet_time now) {
    auto& s = st_[i];
    s.phase = fleet_phase::reconciling;
    s.window_end = now + p_.consistency_window;
    s.gap = std::max(std::chrono::milliseconds(10), p_.consistency_window / 16);
    s.next_look = std::min(now + s.gap, s.window_end);
    emit(i, fleet_event::looking_up, report_.instances[i].group_name);
}

void fleet_core::on_create_answer(std::size_t i, const create_answer& a, unsigned attempts,
                                  const std::vector<std::string>& request_ids, fleet_time now) {
    auto& r = report_.instances[i];
    auto& s = st_[i];
    r.attempts += attempts;
    r.request_ids.insert(r.request_ids.end(), request_ids.begin(), request_ids.end());
    switch (a.kind) {
        case create_answer::ok:  // C1
            s.answer_at = now;
            mark_created(i, nullptr, a.group_id, false, now);
            return;
        case create_answer::unknown:  // C2
            s.ambiguous = true;
            if (report_.interrupted) return make_unknown(i, "the answer to CreateSnapshotGroup was lost: " + a.message);
            start_window(i, now);
            return;
        case create_answer::busy:
            if (is_disk_busy_code(a.code)) {  // C3
                s.phase = fleet_phase::refresh;
                emit(i, fleet_event::retrying, a.code);
            } else if (s.ambiguous) {  // C4
                start_window(i, now);
            } else {
                if (s.first_busy == fleet_time{}) s.first_busy = s.last_send;
                if (now - s.first_busy < p_.instance_deadline && !stopping_) {  // C5
                    s.phase = fleet_phase::retry_wait;
                    s.retry_at = now + p_.poll_interval;
                    emit(i, fleet_event::retrying, a.code);
                } else {  // C6
                    fail(i, a.code,
                         a.message + " (busy for " + seconds_text(p_.instance_deadline) + ", instance_deadline)");
                }
            }
            return;
        case create_answer::failed: {  // C7
            std::string msg = a.message;
            if (s.ambiguous)
                msg += "; an earlier send's outcome is unknown: if its group appears, the final sweep adopts it";
            fail(i, a.code, msg);
            return;
        }
        case create_answer::cancelled:  // C8
            if (s.ambiguous) return make_unknown(i, "cancelled; an earlier send's outcome is unknown");
            --r.sends;  // nothing went out
            s.phase = fleet_phase::done;
            r.outcome = instance_outcome::pending;
            r.error_message = "not started: the run was cancelled";
            return;
    }
}

void fleet_core::on_disks_refreshed(std::size_t i, const std::vector<disk>& disks, const create_answer& busy,
                                    fleet_time /*now*/) {
    auto& r = report_.instances[i];
    const std::size_t before = r.disk_ids.size();
    if (!disks.empty()) {
        st_[i].disks.clear();
        for (const auto& d : disks) st_[i].disks.push_back(planned_disk::from(d));
    }
    replan(i, true,
           "; CreateSnapshotGroup answered " + busy.code + " for " + seconds_text(p_.busy_disk_wait) +
               " (busy_disk_wait)");
    if (r.disk_ids.empty())
        fail(i, busy.code, "no disk of " + r.instance_id + " is left to snapshot: " + busy.message);
    else if (r.disk_ids.size() >= before)
        fail(i, busy.code, busy.message + " (DescribeDisks shows no disk migrating or rolling back)");
    else if (stopping_)
        make_unknown(i, "stopped before the create was sent again with the disks that are not busy");
    else
        make_ready(i);
}

std::vector<std::size_t> fleet_core::wake_retries(fleet_time now) {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < size(); ++i)
        if (st_[i].phase == fleet_phase::retry_wait && st_[i].retry_at <= now) {
            make_ready(i);
            out.push_back(i);
        }
    return out;
}

std::vector<std::string> fleet_core::due_lookups(fleet_time now) const {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < size(); ++i)
        if (st_[i].phase == fleet_phase::reconciling && st_[i].next_look <= now)
            out.push_back(report_.instances[i].group_name);
    return out;
}

std::vector<std::size_t> fleet_core::on_lookup(const std::vector<std::string>& names, bool ok,
                                               const std::vector<snapshot_group>& groups, const std::string& why,
                                               fleet_time now) {
    std::vector<std::size_t> ready;
    if (ok) on_listed(groups, now);
    for (const auto& name : names) {
        auto it = by_name_.find(name);
        if (it == by_name_.end()) continue;
        const std::size_t i = it->second;
        auto& s = st_[i];
        if (s.phase != fleet_phase::reconciling) continue;
        if (ok) {
            if (auto found = exact(groups, i); !found.empty()) {  // R1
                mark_created(i, found.front(), found.front()->snapshot_group_id, true, now);
                continue;
            }
        }
        if (now < s.window_end && !report_.interrupted) {  // R2, R5
            s.gap *= 2;
            s.next_look = std::min(now + s.gap, s.window_end);
        } else if (!ok) {  // R6
            make_unknown(
                i, "the outcome of CreateSnapshotGroup could not be confirmed: looking the name up failed: " + why);
        } else if (stopping_) {  // R7
            make_unknown(i, "the run stopped before the create could be confirmed or sent again");
        } else if (sends_left(i)) {  // R3
            emit(i, fleet_event::retrying,
                 "not listed after " + seconds_text(p_.consistency_window) + ": sending again");
            ++s.resends;
            make_ready(i);
            ready.push_back(i);
        } else {  // R4
            make_unknown(i, "CreateSnapshotGroup was sent " + std::to_string(report_.instances[i].sends) +
                                " times without an answer and no group named " + report_.instances[i].group_name +
                                " was listed within " + seconds_text(p_.consistency_window) + " of each");
        }
    }
    return ready;
}

void fleet_core::on_stop(bool interrupted, const std::string& journal_error, fleet_time /*now*/) {
    stopping_ = true;
    if (interrupted) report_.interrupted = true;
    if (!journal_error.empty() && report_.journal_error.empty()) report_.journal_error = journal_error;
    const std::string why = interrupted ? "the run was cancelled" : "the journal failed: " + journal_error;
    for (std::size_t i = 0; i < size(); ++i) {
        auto& s = st_[i];
        auto& r = report_.instances[i];
        switch (s.phase) {
            case fleet_phase::reconciling:
                if (interrupted) make_unknown(i, "the run was cancelled before the create could be confirmed");
                break;  // else reconciliation goes on: it creates nothing
            case fleet_phase::planning:
            case fleet_phase::lookup:
            case fleet_phase::ready:
            case fleet_phase::retry_wait:
            case fleet_phase::refresh:  // S0
                if (s.ambiguous) {
                    make_unknown(i, "stopped (" + why + ") before the create could be confirmed");
                } else {
                    s.phase = fleet_phase::done;
                    r.outcome = instance_outcome::pending;
                    r.error_message = "not started: " + why;
                }
                break;
            default:
                break;
        }
    }
}

std::optional<fleet_time> fleet_core::next_due() const {
    std::optional<fleet_time> out;
    for (const auto& s : st_) {
        std::optional<fleet_time> t;
        if (s.phase == fleet_phase::reconciling) t = s.next_look;
        if (s.phase == fleet_phase::retry_wait) t = s.retry_at;
        if (t && (!out || *t < *out)) out = t;
    }
    return out;
}

bool fleet_core::creating_active() const {
    return std::any_of(st_.begin(), st_.end(), [](const instance_core& s) {
        return s.phase == fleet_phase::ready || s.phase == fleet_phase::sending ||
               s.phase == fleet_phase::reconciling || s.phase == fleet_phase::retry_wait ||
               s.phase == fleet_phase::refresh;
    });
}

}  // namespace cbs::detail
