// cbs-async emulator: ApplySnapshotGroup (rolling disks back to a group's
// snapshots) and the instance state it depends on.
//
// The service's ApplySnapshotGroup API page documents the inputs
// (SnapshotGroupId, ApplyDisks.N of {SnapshotId, DiskId}, AutoStopInstance,
// AutoStartInstance), that attached disks must be on one instance which must
// be stopped, that success only means accepted (the group is ROLLBACKING,
// then NORMAL), and four codes: InvalidParameter, MissingParameter,
// UnsupportedOperation.SnapshotGroupDiskAttachMultiInstance and
// UnsupportedOperation.StateError. Every refusal here uses one of them.
#include "fleet_detail.hpp"

#include <stdexcept>

namespace cbs::emu::detail {

namespace {

using pair_list = std::vector<std::pair<std::string, std::string>>;  // (SnapshotId, DiskId)

/// ApplyDisks.N: [{"SnapshotId": ..., "DiskId": ...}], checked like the top
/// level (unknown keys, types, required fields).
std::optional<pair_list> read_apply_disks(const json::object& params) {
    auto it = params.find("ApplyDisks");
    if (it == params.end()) return std::nullopt;
    if (!it->value().is_array())
        fail("InvalidParameter", "The value type of parameter `ApplyDisks` is not valid, expected Array of ApplyDisk.");
    pair_list out;
    std::size_t i = 0;
    for (const auto& e : it->value().get_array()) {
        const std::string path = "ApplyDisks." + std::to_string(i++);
        if (!e.is_object())
            fail("InvalidParameter", "The value type of parameter `" + path + "` is not valid, expected ApplyDisk.");
        const auto& obj = e.get_object();
        for (const auto& kv : obj)
            if (kv.key() != "SnapshotId" && kv.key() != "DiskId")
                fail("UnknownParameter",
                     "The parameter `" + path + "." + std::string(kv.key()) + "` is not recognized.");
        auto snap = get_string(obj, "SnapshotId");
        if (!snap) fail("MissingParameter", "The request is missing a required parameter `" + path + ".SnapshotId`.");
        auto disk_id = get_string(obj, "DiskId");
        if (!disk_id) fail("MissingParameter", "The request is missing a required parameter `" + path + ".DiskId`.");
        out.emplace_back(std::move(*snap), std::move(*disk_id));
    }
    return out;
}

std::string pair_text(const std::pair<std::string, std::string>& p) {
    return "{SnapshotId `" + p.first + "`, DiskId `" + p.second + "`}";
}

[[noreturn]] void state_error(std::string message) {
    fail("UnsupportedOperation.StateError", std::move(message));
}

}  // namespace

const char* fleet_impl::snapshot_state(const snapshot& s, clock::time_point now) const {
    if (now < s.ready_at) return "CREATING";
    auto git = group_by_id.find(s.group_id);
    if (git == group_by_id.end()) return "NORMAL";
    const group& g = groups.at(git->second);
    if (rolling_back(g, now))
        for (const auto& [snap, disk_id] : g.rolling->pairs)
            if (snap == s.id) return "ROLLBACKING";
    return "NORMAL";
}

json::object fleet_impl::apply_snapshot_group(const json::object& params, clock::time_point now) {
    check_known(params, {"SnapshotGroupId", "ApplyDisks", "AutoStopInstance", "AutoStartInstance"});
    const auto id = get_string(params, "SnapshotGroupId");
    const auto pairs = read_apply_disks(params);
    const bool auto_stop = get_bool(params, "AutoStopInstance").value_or(false);
    const bool auto_start = get_bool(params, "AutoStartInstance").value_or(false);
    if (!id) fail("MissingParameter", "The request is missing a required parameter `SnapshotGroupId`.");
    // Empty ApplyDisks is "missing", as an empty DiskIds is for CreateSnapshotGroup.
    if (!pairs || pairs->empty()) fail("MissingParameter", "The request is missing a required parameter `ApplyDisks`.");
    if (!well_formed_id(*id, "csnap-")) fail("InvalidParameter", "The snapshot group id `" + *id + "` is malformed.");
    // An unknown group: the action documents no NotFound code, so the
    // parameter is invalid.
    auto git = group_by_id.find(*id);
    if (git == group_by_id.end()) fail("InvalidParameter", "The snapshot group `" + *id + "` does not exist.");
    group& g = groups.at(git->second);
    if (const std::string state = group_state(g, now); state != "NORMAL")
        state_error("The snapshot group `" + g.id + "` is " + state + "; only a NORMAL group can be applied.");

    // Each pair: a member snapshot of the group and the disk it was taken from, each disk once.
    std::vector<disk*> targets;
    std::unordered_set<std::string> seen;
    for (std::size_t i = 0; i < pairs->size(); ++i) {
        const auto& p = (*pairs)[i];
        const auto sit = snapshot_by_id.find(p.first);
        const snapshot* s = sit == snapshot_by_id.end() ? nullptr : &snapshots.at(sit->second);
        if (!s || s->group_id != g.id || s->disk_id != p.second)
            fail("InvalidParameter", "`ApplyDisks." + std::to_string(i) + "` " + pair_text(p) +
                                         " is not a snapshot of the group `" + g.id +
                                         "` with the disk it was taken from.");
        if (!seen.insert(p.second).second)
            fail("InvalidParameter", "The disk `" + p.second + "` is given more than once in `ApplyDisks`.");
        targets.push_back(&disk_at(p.second));
    }
    // Attached disks must be on one instance.
    std::string instance;
    for (const disk* d : targets) {
        if (d->instance_id.empty()) continue;
        if (!instance.empty() && d->instance_id != instance)
            fail("UnsupportedOperation.SnapshotGroupDiskAttachMultiInstance",
                 "The disks in `ApplyDisks` are attached to more than one instance: `" + instance + "` and `" +
                     d->instance_id + "`.");
        instance = d->instance_id;
    }
    // A disk busy with something else can't be rolled back meanwhile.
    for (const disk* d : targets) {
        if (d->state == "ATTACHING" || d->state == "DETACHING" || d->rollbacking)
            state_error("The disk `" + d->id + "` is " + d->state + "; it cannot be rolled back now.");
        if (d->migrating) state_error("The disk `" + d->id + "` is being migrated; it cannot be rolled back now.");
        if (now < d->busy_until)
            state_error("A snapshot is being created for the disk `" + d->id + "`; it cannot be rolled back now.");
    }
    instance_info* ins = nullptr;
    if (!instance.empty()) {
        ins = &instance_by_id.at(instance);
        if (ins->state == "RUNNING" && !auto_stop)
            state_error("The instance `" + instance + "` is RUNNING; it must be stopped, or set AutoStopInstance.");
    }

    // Accepted: the instance stops, the disks roll back until `to`.
    rollback rb;
    rb.from = now;
    rb.to = now + scaled(std::chrono::duration_cast<clock::duration>(cfg.rollback_time));
    rb.instance_id = instance;
    rb.auto_start = auto_start;
    rb.pairs = *pairs;
    if (ins) ins->state = "STOPPED";
    for (disk* d : targets) {
        d->rollbacking = true;
        d->rollback_percent = 0;
        d->state = "ROLLBACKING";
    }
    rollbacks.emplace(rb.to, g.seq);
    g.rolling = std::move(rb);
    settle_rollbacks(now);  // a zero rollback_time is done at once
    return json::object{};
}

void fleet_impl::settle_rollbacks(clock::time_point now) {
    while (!rollbacks.empty() && rollbacks.begin()->first <= now) {
        const auto seq = rollbacks.begin()->second;
        rollbacks.erase(rollbacks.begin());
        auto it = groups.find(seq);
        if (it == groups.end() || !it->second.rolling) continue;
        const rollback rb = std::move(*it->second.rolling);
        it->second.rolling.reset();
        for (const auto& [snap, disk_id] : rb.pairs) {
            disk& d = disk_at(disk_id);
            d.rollbacking = false;
            d.rollback_percent = 100;
            d.state = d.instance_id.empty() ? "UNATTACHED" : "ATTACHED";
            d.restored_from = snap;
        }
        if (auto ins = instance_by_id.find(rb.instance_id); rb.auto_start && ins != instance_by_id.end())
            ins->second.state = "RUNNING";
    }
    // Those under way: RollbackPercent rises with the time spent.
    for (const auto& [to, seq] : rollbacks) {
        const group& g = groups.at(seq);
        if (!g.rolling) continue;
        const double span = std::chrono::duration<double>(g.rolling->to - g.rolling->from).count();
        const double done = std::chrono::duration<double>(now - g.rolling->from).count();
        const int p = span > 0 ? std::clamp(static_cast<int>(100.0 * done / span), 0, 99) : 99;
        for (const auto& pr : g.rolling->pairs) disk_at(pr.second).rollback_percent = p;
    }
}

}  // namespace cbs::emu::detail

namespace cbs::emu {

void fleet_state::set_instance_state(std::string_view instance_id, std::string_view state) {
    auto it = impl_->instance_by_id.find(std::string(instance_id));
    if (it == impl_->instance_by_id.end())
        throw std::invalid_argument("fleet_state: unknown instance " + std::string(instance_id));
    if (state != "RUNNING" && state != "STOPPED")
        throw std::invalid_argument("fleet_state: instance state must be RUNNING or STOPPED, got " +
                                    std::string(state));
    it->second.state = std::string(state);
}

std::string fleet_state::instance_state(std::string_view instance_id) const {
    auto it = impl_->instance_by_id.find(std::string(instance_id));
    return it == impl_->instance_by_id.end() ? std::string() : it->second.state;
}

void fleet_state::set_disk_instance(std::string_view disk_id, std::string_view instance_id) {
    auto& d = impl_->disk_at(disk_id);
    if (!instance_id.empty() && !impl_->instance_by_id.count(std::string(instance_id)))
        throw std::invalid_argument("fleet_state: unknown instance " + std::string(instance_id));
    impl_->move_disk(d, std::string(instance_id));
    if (!d.rollbacking) d.state = instance_id.empty() ? "UNATTACHED" : "ATTACHED";
}

}  // namespace cbs::emu
