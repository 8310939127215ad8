// The fleet core, continued: outcome transitions, waiting for NORMAL, the
// final sweep over every planned name, and the summary (rows W*, D* of the
// decision table in detail/fleet_core.hpp).
#include <cbs/detail/fleet_core.hpp>
#include <cbs/retry_policy.hpp>

#include <algorithm>

namespace cbs::detail {

namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
}

}  // namespace

void fleet_core::mark_created(std::size_t i, const snapshot_group* g, const std::string& group_id, bool adopted,
                              fleet_time now) {
    auto& r = report_.instances[i];
    auto& s = st_[i];
    if (!r.group_id.empty()) by_group_.erase(r.group_id);
    r.group_id = group_id;
    r.adopted = adopted;
    r.group_state = g ? g->state : "CREATING";
    r.outcome = instance_outcome::created;
    r.error_name.clear();
    if (r.created_s < 0) r.created_s = since_start(now);
    s.phase = fleet_phase::created;
    s.seen_listed = g != nullptr;
    s.created_at = now;
    s.last_listed = g ? now : fleet_time{};
    if (g) s.recorded_create_time = g->create_time;
    by_group_[group_id] = i;
    emit(i, adopted ? fleet_event::adopted : fleet_event::created, group_id, "created");
    if (g && g->state == "NORMAL") mark_normal(i, now);
    if (g && g->state == "FAILED") mark_group_failed(i);
}

void fleet_core::mark_group_failed(std::size_t i) {
    // The service gave up on the group: no snapshot was taken. Not created
    // again under the same name (the name is the run's record of it); a new
    // run id takes a new one.
    auto& r = report_.instances[i];
    r.group_state = "FAILED";
    fail(i, "SnapshotGroupFailed",
         "snapshot group " + r.group_id + " (" + r.group_name +
             ") ended in state FAILED: no snapshot was taken; it is left for inspection, and a run "
             "with a new run id creates another");
}

void fleet_core::mark_normal(std::size_t i, fleet_time now) {
    auto& r = report_.instances[i];
    r.group_state = "NORMAL";
    r.outcome = instance_outcome::normal;
    r.normal_s = since_start(now);
    st_[i].phase = fleet_phase::done;
    emit(i, fleet_event::normal, r.group_id, "normal");
}

void fleet_core::fail(std::size_t i, std::string code, std::string message) {
    auto& r = report_.instances[i];
    r.outcome = instance_outcome::failed;
    r.error_name = std::move(code);
    r.error_message = std::move(message);
    st_[i].phase = fleet_phase::done;
    emit(i, fleet_event::failed, r.error_name, "failed");
}

void fleet_core::make_unknown(std::size_t i, std::string message) {
    auto& r = report_.instances[i];
    r.outcome = instance_outcome::unknown;
    r.error_name = "OutcomeUnknown";
    r.error_message = std::move(message) + "; look for a group named " + r.group_name + " before creating another";
    st_[i].phase = fleet_phase::done;
    emit(i, fleet_event::unknown, r.group_name, "unknown");
}

// ---- waiting ----------------------------------------------------------------

std::vector<std::string> fleet_core::ids_to_poll() const {
    std::vector<std::string> out;
    for (const auto& r : report_.instances)
        if (r.outcome == instance_outcome::created && !r.group_id.empty()) out.push_back(r.group_id);
    return out;
}

void fleet_core::on_listed(const std::vector<snapshot_group>& groups, fleet_time now) {
    for (const auto& g : groups) {
        auto it = by_group_.find(g.snapshot_group_id);
        if (it == by_group_.end()) continue;
        const std::size_t i = it->second;
        auto& r = report_.instances[i];
        auto& s = st_[i];
        if (g.name != r.group_name) continue;  // not ours after all
        if (!s.seen_listed) {
            s.seen_listed = true;
            // From the send, so the lag seen is never shorter than the real one.
            if (s.last_send != fleet_time{})
                observed_lag_ =
                    std::max(observed_lag_, std::chrono::duration_cast<std::chrono::milliseconds>(now - s.last_send));
        }
        s.recorded_create_time = g.create_time;
        s.last_listed = now;
        r.group_state = g.state;
        if (g.state == "NORMAL" && r.outcome == instance_outcome::created) mark_normal(i, now);
        if (g.state == "FAILED" && r.outcome == instance_outcome::created) mark_group_failed(i);
    }
}

fleet_time fleet_core::sweep_not_before(std::chrono::milliseconds margin) const {
    if (!last_send_) return start_;
    return *last_send_ + std::max(p_.consistency_window, observed_lag_ + margin);
}

// ---- sweep ------------------------------------------------------------------

std::vector<std::string> fleet_core::sweep_names() const {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < size(); ++i)
        if (!report_.instances[i].disk_ids.empty() && st_[i].phase != fleet_phase::planning)
            out.push_back(report_.instances[i].group_name);
    return out;
}

sweep_decision fleet_core::sweep_decide(const std::vector<snapshot_group>& groups, fleet_time now) {
    sweep_decision out;
    on_listed(groups, now);
    for (std::size_t i = 0; i < size(); ++i) {
        auto& r = report_.instances[i];
        if (r.disk_ids.empty() || st_[i].phase == fleet_phase::planning) continue;
        auto found = exact(groups, i);
        if (found.empty()) continue;  // W1, W2
        // W4: the id this run recorded is not listed while another group of
        // the name is: the recorded one is newer than what is listed (the
        // sweep waited past the lag seen) or another run's sweep deleted it.
        // Keep the listed oldest; the recorded one is a duplicate, deleted by
        // id (NotFound counts as deleted).
        if (!r.group_id.empty() &&
            std::none_of(found.begin(), found.end(),
                         [&](const snapshot_group* g) { return g->snapshot_group_id == r.group_id; }) &&
            !contains(r.duplicate_group_ids, r.group_id)) {
            r.duplicate_group_ids.push_back(r.group_id);
            emit(i, fleet_event::duplicate, r.group_id);
        }
        const snapshot_group* keep = found.front();
        if (r.group_id != keep->snapshot_group_id) {  // W3, W4, or W6 keeping an older one
            const std::string previous = r.group_id;
            const auto outcome = r.outcome;
            const std::string note = r.error_message;
            mark_created(i, keep, keep->snapshot_group_id, true, now);
            if (previous.empty() && (outcome == instance_outcome::unknown || outcome == instance_outcome::failed))
                r.error_message = "found by the final sweep (earlier: " + note + ")";
        }
        for (std::size_t k = 1; k < found.size(); ++k) {
            const auto& id = found[k]->snapshot_group_id;
            if (!contains(r.duplicate_group_ids, id)) {
                r.duplicate_group_ids.push_back(id);
                emit(i, fleet_event::duplicate, id);
            }
        }
        if (r.duplicate_group_ids.empty()) continue;
        if (p_.keep_duplicates) {  // W5
            if (r.outcome != instance_outcome::failed)
                fail(i, "DuplicateGroups",
                     std::to_string(1 + r.duplicate_group_ids.size()) + " groups are named " + r.group_name + ": " +
                         keep->snapshot_group_id + " (the oldest), " + join(r.duplicate_group_ids) +
                         " (keep_duplicates: none deleted)");
            continue;
        }
        if (r.outcome == instance_outcome::failed) continue;
        for (const auto& id : r.duplicate_group_ids) {  // W6 (and W4's unlisted one)
            if (pending_deletes_.count(id) || contains(r.deleted_group_ids, id)) continue;
            auto listed = std::find_if(found.begin(), found.end(),
                                       [&](const snapshot_group* g) { return g->snapshot_group_id == id; });
            if (listed != found.end() && (*listed)->state == "CREATING") {
                ++out.waiting;
                continue;
            }
            pending_deletes_[id] = true;
            out.deletes.push_back({i, id});
        }
    }
    return out;
}

void fleet_core::on_delete_answer(std::size_t i, const std::string& group_id, const error_code& ec,
                                  const diagnostics& diag, fleet_time /*now*/) {
    auto& r = report_.instances[i];
    if (!ec || diag.server_code == "InvalidSnapshotId.NotFound") {  // D1
        if (!contains(r.deleted_group_ids, group_id)) r.deleted_group_ids.push_back(group_id);
        core_effect e;
        e.index = i;
        e.event = fleet_event::deleted;
        e.detail = group_id;
        e.journal_state = "deleted";
        e.group_id = group_id;
        effects_.push_back(std::move(e));
        return;
    }
    pending_deletes_.erase(group_id);
    // D3: still CREATING, or a failure worth retrying (throttled, transient,
    // network): the next listing hands it out again (the sweep is bounded by
    // wait_timeout).
    const auto cls = classify(ec, true, diag.server_code);
    if (diag.server_code == "UnsupportedOperation.StateError" || cls == error_class::throttle ||
        cls == error_class::transient || cls == error_class::busy || cls == error_class::network_ambiguous ||
        cls == error_class::network_before_send)
        return;
    fail(i, "DuplicateGroups",  // D2
         "two groups remain under the name " + r.group_name + " (" + r.group_id + " kept, " + group_id +
             "): deleting the newer failed: " + diag.to_string(ec));
}

bool fleet_core::duplicates_outstanding() const {
    for (const auto& r : report_.instances) {
        if (r.outcome == instance_outcome::failed) continue;
        for (const auto& id : r.duplicate_group_ids)
            if (!contains(r.deleted_group_ids, id)) return true;
    }
    return false;
}

std::vector<std::string> fleet_core::unseen_names(fleet_time now) const {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < size(); ++i) {
        const auto& s = st_[i];
        const fleet_time since = std::max({s.answer_at, s.created_at, s.last_listed});
        if (report_.instances[i].outcome == instance_outcome::created && since != fleet_time{} &&
            now - since >= p_.consistency_window)
            out.push_back(report_.instances[i].group_name);
    }
    return out;
}

void fleet_core::sweep_gave_up(const std::string& why) {
    for (std::size_t i = 0; i < size(); ++i) {
        auto& r = report_.instances[i];
        if (r.outcome == instance_outcome::failed) continue;
        std::vector<std::string> left;
        for (const auto& id : r.duplicate_group_ids)
            if (!contains(r.deleted_group_ids, id)) left.push_back(id);
        if (!left.empty())
            fail(i, "DuplicateGroups",
                 "groups " + join(left) + " remain beside " + r.group_id + " under the name " + r.group_name + ": " +
                     why);
    }
}

// ---- summary ----------------------------------------------------------------

void fleet_core::summarize(fleet_time now) {
    fleet_summary s;
    s.discover_s = report_.summary.discover_s;
    s.create_s = report_.summary.create_s;
    s.instances = report_.instances.size();
    for (std::size_t i = 0; i < size(); ++i) {
        auto& r = report_.instances[i];
        // An instance left with two groups is failed, whatever happened before.
        std::vector<std::string> left;
        for (const auto& id : r.duplicate_group_ids)
            if (!contains(r.deleted_group_ids, id)) left.push_back(id);
        if (!left.empty() && r.outcome != instance_outcome::failed)
            fail(i, "DuplicateGroups",
                 "groups " + join(left) + " remain beside " + r.group_id + " under the name " + r.group_name);
        switch (r.outcome) {
            case instance_outcome::pending:
                ++s.pending;
                break;
            case instance_outcome::skipped:
                ++s.skipped;
                break;
            case instance_outcome::created:
                ++s.created;
                break;
            case instance_outcome::normal:
                ++s.normal;
                break;
            case instance_outcome::failed:
                ++s.failed;
                break;
            case instance_outcome::unknown:
                ++s.unknown;
                break;
        }
        s.adopted += r.adopted;
        s.duplicates_found += r.duplicate_group_ids.size();
        s.duplicates_deleted += r.deleted_group_ids.size();
        s.creates_sent += r.sends - std::min(r.sends, st_[i].journaled_intents);
    }
    s.total_s = since_start(now);
    report_.summary = s;
    report_.all_ok = s.failed == 0 && s.unknown == 0 && s.pending == 0 && (!p_.wait || s.created == 0) &&
                     !report_.interrupted && report_.journal_error.empty() && report_.sweep_error.empty();
}

}  // namespace cbs::detail
