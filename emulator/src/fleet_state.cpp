// cbs-async emulator: the synthetic fleet, action dispatch, time, inspection.
#include "fleet_detail.hpp"

#include <array>
#include <cstdio>
#include <stdexcept>

namespace cbs::emu {

namespace detail {

std::uint64_t rng::next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

namespace {

constexpr std::array<const char*, 4> zone_suffixes{"3", "4", "6", "7"};
constexpr std::array<const char*, 3> system_types{"CLOUD_PREMIUM", "CLOUD_SSD", "CLOUD_BSSD"};
constexpr std::array<const char*, 4> data_types{"CLOUD_PREMIUM", "CLOUD_SSD", "CLOUD_HSSD", "CLOUD_BSSD"};
constexpr std::array<std::int64_t, 4> system_sizes{50, 50, 100, 200};
constexpr std::array<std::int64_t, 6> data_sizes{20, 100, 200, 500, 1000, 2000};

template <class A>
auto pick(rng& r, const A& a) {
    return a[r.below(a.size())];
}

}  // namespace

fleet_impl::fleet_impl(const fleet_params& p) : cfg(p), random(p.seed), wall_origin(p.wall_origin_unix) {
    // Everything below draws from `random` in a fixed order: same seed, same fleet.
    auto add_disk = [&](disk d) {
        d.ordinal = disks.size();
        d.age_seconds = 3600 + static_cast<std::int64_t>(random.below(2 * 365 * 86400));
        d.encrypt = d.usage == "DATA_DISK" && random.chance(0.05);
        disk_by_id.emplace(d.id, d.ordinal);
        disks_by_instance[d.instance_id].push_back(d.ordinal);
        disks.push_back(std::move(d));
    };
    auto attached_flags = [&](disk& d) {
        if (random.chance(cfg.migrating)) {
            d.migrating = true;
            d.migrate_percent = 1 + static_cast<int>(random.below(99));
        } else if (random.chance(cfg.rollbacking)) {
            d.rollbacking = true;
            d.rollback_percent = 1 + static_cast<int>(random.below(99));
        }
    };

    instances.reserve(cfg.instances);
    disks.reserve(cfg.instances * 3 + cfg.unattached_disks);
    for (std::size_t i = 0; i < cfg.instances; ++i) {
        const std::string ins = new_id("ins-");
        instances.push_back(ins);
        const std::string zone = cfg.region + "-" + pick(random, zone_suffixes);

        disk sys;
        sys.id = new_id("disk-");
        sys.name = ins + "-system";
        sys.instance_id = ins;
        sys.usage = "SYSTEM_DISK";
        sys.type = pick(random, system_types);
        sys.state = "ATTACHED";
        sys.zone = zone;
        sys.size_gib = pick(random, system_sizes);
        attached_flags(sys);
        add_disk(std::move(sys));

        const auto n_data = random.below(4);  // 0-3 data disks
        for (std::uint64_t k = 0; k < n_data; ++k) {
            disk d;
            d.id = new_id("disk-");
            d.name = ins + "-data" + std::to_string(k);
            d.instance_id = ins;
            d.usage = "DATA_DISK";
            d.type = pick(random, data_types);
            d.state = "ATTACHED";
            d.zone = zone;
            d.size_gib = pick(random, data_sizes);
            d.snapshot_ability = !random.chance(cfg.no_snapshot_ability);
            attached_flags(d);
            add_disk(std::move(d));
        }
    }
    for (std::size_t i = 0; i < cfg.unattached_disks; ++i) {
        disk d;
        d.id = new_id("disk-");
        d.name = "data-disk-" + std::to_string(i);
        d.usage = "DATA_DISK";
        d.type = pick(random, data_types);
        d.state = "UNATTACHED";
        d.zone = cfg.region + "-" + pick(random, zone_suffixes);
        d.size_gib = pick(random, data_sizes);
        d.snapshot_ability = !random.chance(cfg.no_snapshot_ability);
        add_disk(std::move(d));
    }
}

void fleet_impl::observe(clock::time_point now) {
    if (!steady_origin) steady_origin = now;
    if (now > latest_now) latest_now = now;
}

std::string fleet_impl::new_id(std::string_view prefix) {
    static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (;;) {
        std::string id(prefix);
        for (int i = 0; i < 8; ++i) id += alphabet[random.below(36)];
        if (used_ids.insert(id).second) return id;
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

namespace {

std::string format_unix_beijing(std::int64_t unix_seconds) {
    using namespace std::chrono;
    const sys_seconds t{seconds{unix_seconds + 8 * 3600}};  // the service answers in UTC+8
    const auto day = floor<days>(t);
    const year_month_day ymd{day};
    const hh_mm_ss hms{t - day};
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02d:%02d:%02d", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()));
    return buf;
}

}  // namespace

std::string fleet_impl::wall_time(clock::time_point t) const {
    const auto origin = steady_origin.value_or(t);
    const auto offset = std::chrono::duration_cast<std::chrono::seconds>(t - origin).count();
    return format_unix_beijing(wall_origin + offset);
}

std::string fleet_impl::disk_create_time(const disk& d) const {
    return format_unix_beijing(wall_origin - d.age_seconds);
}

int fleet_impl::percent(clock::time_point created, clock::time_point ready_at, clock::time_point now) const {
    if (now >= ready_at) return 100;
    if (now <= created) return 0;
    // Linear in time; never 100 while still CREATING.
    const auto total = std::chrono::duration<double>(ready_at - created).count();
    const auto done = std::chrono::duration<double>(now - created).count();
    const int p = static_cast<int>(100.0 * done / total);
    return p > 99 ? 99 : p;
}

group_view fleet_impl::view(const group& g) const {
    group_view v;
    v.group_id = g.id;
    v.name = g.name;
    v.state = creating(g, latest_now) ? "CREATING" : "NORMAL";
    v.disk_ids = g.disk_ids;
    v.snapshot_ids = g.snapshot_ids;
    v.instance_id = g.instance_id;
    v.percent = percent(g.created, g.ready_at, latest_now);
    v.listed = listed(g, latest_now);
    return v;
}

}  // namespace detail

fleet_state::fleet_state(const fleet_params& params) : impl_(std::make_shared<impl>(params)) {}

bool fleet_state::known_action(std::string_view action) {
    return action == "DescribeDisks" || action == "CreateSnapshotGroup" || action == "DescribeSnapshotGroups" ||
           action == "DeleteSnapshotGroup" || action == "DescribeSnapshots";
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
disk_view to_view(const detail::disk& d) {
    return disk_view{d.id, d.instance_id, d.usage, d.state, d.snapshot_ability, d.migrating, d.rollbacking};
}
}  // namespace

std::vector<disk_view> fleet_state::disks_of(std::string_view instance_id) const {
    std::vector<disk_view> out;
    auto it = impl_->disks_by_instance.find(std::string(instance_id));
    if (it == impl_->disks_by_instance.end()) return out;
    for (auto ordinal : it->second) out.push_back(to_view(impl_->disks[ordinal]));
    return out;
}

std::optional<disk_view> fleet_state::disk(std::string_view disk_id) const {
    const auto* d = impl_->find_disk(disk_id);
    if (!d) return std::nullopt;
    return to_view(*d);
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
    impl_->wall_origin = std::chrono::duration_cast<std::chrono::seconds>(wall.time_since_epoch()).count();
}

}  // namespace cbs::emu
