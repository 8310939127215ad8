// cbs-async emulator: action dispatch and inspection (the fleet is built in
// fleet_build.cpp, its clock in fleet_time.cpp).
#include "fleet_detail.hpp"

#include <stdexcept>

namespace cbs::emu {

namespace detail {

std::uint64_t rng::next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

std::string fleet_impl::new_id(std::string_view prefix) {
    static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (;;) {
        std::string id(prefix);
        for (int i = 0; i < 8; ++i) id += alphabet[random.below(36)];
        if (used_ids->ids.insert(id).second) return id;
    }
}

disk& fleet_impl::disk_at(std::string_view id) {
    auto it = disk_by_id.find(std::string(id));
    if (it == disk_by_id.end()) throw std::invalid_argument("fleet_state: unknown disk " + std::string(id));
    return disks[it->second];
}

const disk* fleet_impl::find_disk(std::string_view id) const {
    auto it = disk_by_id.find(std::string(id));
    return it == disk_by_id.end() ? nullptr : &disks[it->second];
}

group_view fleet_impl::view(const group& g) const {
    group_view v;
    v.group_id = g.id;
    v.name = g.name;
    v.state = group_state(g, latest_now);
    v.disk_ids = g.disk_ids;
    v.snapshot_ids = g.snapshot_ids;
    v.instance_id = g.instance_id;
    v.percent = percent(g, latest_now);
    v.listed = listed(g, latest_now);
    for (const auto& t : g.tags) v.tags.push_back({t.key, t.value});
    return v;
}

}  // namespace detail

fleet_state::fleet_state(const fleet_params& params) : fleet_state(params, std::make_shared<id_registry>()) {}

fleet_state::fleet_state(const fleet_params& params, std::shared_ptr<id_registry> ids) {
    if (!ids) throw std::invalid_argument("fleet_state: null id registry");
    impl_ = std::make_shared<impl>(params, std::move(ids));
}

bool fleet_state::known_action(std::string_view action) {
    return action == "DescribeDisks" || action == "CreateSnapshotGroup" || action == "DescribeSnapshotGroups" ||
           action == "DeleteSnapshotGroup" || action == "DescribeSnapshots" || action == "ApplySnapshotGroup";
}

action_result fleet_state::handle(std::string_view action, const boost::json::object& params, clock::time_point now) {
    action_result result;
    impl_->observe(now);
    try {
        if (action == "DescribeDisks")
            result.response = impl_->describe_disks(params, now);
        else if (action == "CreateSnapshotGroup")
            result.response = impl_->create_snapshot_group(params, now);
        else if (action == "DescribeSnapshotGroups")
            result.response = impl_->describe_snapshot_groups(params, now);
        else if (action == "DeleteSnapshotGroup")
            result.response = impl_->delete_snapshot_group(params, now);
        else if (action == "DescribeSnapshots")
            result.response = impl_->describe_snapshots(params, now);
        else if (action == "ApplySnapshotGroup")
            result.response = impl_->apply_snapshot_group(params, now);
        else
            detail::fail("InvalidAction", "The requested action `" + std::string(action) + "` does not exist.");
    } catch (detail::api_error& e) {
        result.response = {};
        result.error = std::move(e.failure);
    }
    return result;
}

std::vector<std::string> fleet_state::instance_ids() const {
    return impl_->instances;
}

namespace {
disk_view to_view(const detail::fleet_impl& f, const detail::disk& d) {
    disk_view v{d.id, d.instance_id, d.usage, d.state, d.snapshot_ability, d.migrating, d.rollbacking, std::nullopt};
    if (d.change != detail::change_kind::none) v.changes_at = f.at_offset(d.change_to);
    v.rollback_percent = d.rollback_percent;
    v.restored_from = d.restored_from;
    return v;
}
}  // namespace

std::vector<disk_view> fleet_state::disks_of(std::string_view instance_id) const {
    std::vector<disk_view> out;
    auto it = impl_->disks_by_instance.find(std::string(instance_id));
    if (it == impl_->disks_by_instance.end()) return out;
    for (auto ordinal : it->second) out.push_back(to_view(*impl_, impl_->disks[ordinal]));
    return out;
}

std::optional<disk_view> fleet_state::disk(std::string_view disk_id) const {
    const auto* d = impl_->find_disk(disk_id);
    if (!d) return std::nullopt;
    return to_view(*impl_, *d);
}

std::vector<group_view> fleet_state::groups() const {
    std::vector<group_view> out;
    out.reserve(impl_->groups.size());
    for (const auto& [seq, g] : impl_->groups) out.push_back(impl_->view(g));
    return out;
}

std::vector<group_view> fleet_state::groups_of(std::string_view instance_id) const {
    std::vector<group_view> out;
    for (const auto& [seq, g] : impl_->groups)
        if (g.instance_id == instance_id) out.push_back(impl_->view(g));
    return out;
}

std::vector<group_view> fleet_state::groups_named(std::string_view name) const {
    std::vector<group_view> out;
    auto it = impl_->groups_by_name.find(std::string(name));
    if (it == impl_->groups_by_name.end()) return out;
    for (auto seq : it->second) out.push_back(impl_->view(impl_->groups.at(seq)));
    return out;
}

void fleet_state::set_disk_busy(std::string_view disk_id, clock::time_point until) {
    auto& d = impl_->disk_at(disk_id);
    if (until > d.busy_until) d.busy_until = until;
}

void fleet_state::set_snapshot_ability(std::string_view disk_id, bool able) {
    impl_->disk_at(disk_id).snapshot_ability = able;
}

void fleet_state::set_migrating(std::string_view disk_id, bool migrating) {
    auto& d = impl_->disk_at(disk_id);
    d.migrating = migrating;
    d.migrate_percent = migrating ? 50 : 0;
}

void fleet_state::set_rollbacking(std::string_view disk_id, bool rollbacking) {
    auto& d = impl_->disk_at(disk_id);
    d.rollbacking = rollbacking;
    d.rollback_percent = rollbacking ? 50 : 0;
}

std::size_t fleet_state::snapshot_count() const {
    return impl_->snapshots.size();
}

void fleet_state::set_time_origin(clock::time_point steady, std::chrono::system_clock::time_point wall) {
    impl_->steady_origin = steady;
    impl_->wall_origin_ms = std::chrono::duration_cast<std::chrono::milliseconds>(wall.time_since_epoch()).count();
}

void fleet_state::set_instance_tags(std::string_view instance_id, const std::vector<tag_view>& tags) {
    auto it = impl_->instance_by_id.find(std::string(instance_id));
    if (it == impl_->instance_by_id.end())
        throw std::invalid_argument("fleet_state: unknown instance " + std::string(instance_id));
    std::vector<detail::tag> t;
    t.reserve(tags.size());
    for (const auto& tv : tags) t.push_back(detail::tag{tv.key, tv.value});
    it->second.tags = t;
    if (auto d = impl_->disks_by_instance.find(it->first); d != impl_->disks_by_instance.end())
        for (auto ordinal : d->second) impl_->disks[ordinal].tags = t;
}

std::vector<tag_view> fleet_state::instance_tags(std::string_view instance_id) const {
    std::vector<tag_view> out;
    auto it = impl_->instance_by_id.find(std::string(instance_id));
    if (it == impl_->instance_by_id.end()) return out;
    for (const auto& t : it->second.tags) out.push_back(tag_view{t.key, t.value});
    return out;
}

}  // namespace cbs::emu
