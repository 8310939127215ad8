// cbs-async emulator: building the seeded fleet (instances, disks, their
// attributes and tags) and the odd disks of realistic mode.
#include "fleet_detail.hpp"

#include <array>
#include <cmath>
#include <stdexcept>

namespace cbs::emu::detail {

namespace {

constexpr std::array<const char*, 4> zone_suffixes{"3", "4", "6", "7"};
constexpr std::array<const char*, 3> system_types{"CLOUD_PREMIUM", "CLOUD_SSD", "CLOUD_BSSD"};
constexpr std::array<const char*, 4> data_types{"CLOUD_PREMIUM", "CLOUD_SSD", "CLOUD_HSSD", "CLOUD_BSSD"};
constexpr std::array<std::int64_t, 4> system_sizes{50, 50, 100, 200};
constexpr std::array<std::int64_t, 6> data_sizes{20, 100, 200, 500, 1000, 2000};
constexpr std::array<const char*, 3> envs{"prod", "staging", "test"};
constexpr std::array<const char*, 4> teams{"web", "data", "storage", "ml"};
constexpr std::array<std::int64_t, 3> projects{0, 1001, 1002};

// A CVM instance takes at most 20 data disks.
constexpr std::size_t max_data_disks = 20;

template <class A>
auto pick(rng& r, const A& a) {
    return a[r.below(a.size())];
}

void check_fraction(double v, double max, const char* name) {
    if (!(v >= 0.0 && v <= max))
        throw std::invalid_argument(std::string("fleet_params.") + name + " must be in [0, " + std::to_string(max) +
                                    "], got " + std::to_string(v));
}

clock::duration seconds_between(rng& r, double lo, double hi) {
    const double s = lo + (hi - lo) * r.unit();
    return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(s));
}

}  // namespace

fleet_impl::fleet_impl(const fleet_params& p, std::shared_ptr<id_registry> registry)
    : fleet_impl(p, std::move(registry), unbuilt{}) {
    build();
    if (cfg.realistic) make_realistic();
}

fleet_impl::fleet_impl(const fleet_params& p, std::shared_ptr<id_registry> registry, unbuilt)
    : cfg(p), random(p.seed), used_ids(std::move(registry)), timing(p.seed ^ 0x7a11ab1eULL) {
    check_fraction(cfg.no_snapshot_ability, 1.0, "no_snapshot_ability");
    check_fraction(cfg.migrating, 1.0, "migrating");
    check_fraction(cfg.rollbacking, 1.0, "rollbacking");
    check_fraction(cfg.failed_fraction, 1.0, "failed_fraction");
    check_fraction(cfg.odd_fraction, 0.2, "odd_fraction");
    if (!(cfg.time_scale > 0.0 && std::isfinite(cfg.time_scale)))
        throw std::invalid_argument("fleet_params.time_scale must be > 0, got " + std::to_string(cfg.time_scale));
    if (cfg.creating_time.count() < 0) throw std::invalid_argument("fleet_params.creating_time must not be negative");
    if (cfg.list_lag.count() < 0) throw std::invalid_argument("fleet_params.list_lag must not be negative");
    if (cfg.rollback_time.count() < 0) throw std::invalid_argument("fleet_params.rollback_time must not be negative");
    if (cfg.realistic) cfg.uneven_creation = true;
    const auto sys_now = cfg.system_now ? cfg.system_now() : std::chrono::system_clock::now();
    wall_origin_ms = std::chrono::duration_cast<std::chrono::milliseconds>(sys_now.time_since_epoch()).count();
}

void fleet_impl::build() {
    // The shape (ids, disks, sizes) draws from `random` in a fixed order, as
    // it always has: same seed, same fleet. Attributes added later (tags,
    // charge type, names) draw from their own stream so they don't move it.
    rng attrs(cfg.seed ^ 0xa77b5ULL);
    auto add_disk = [&](disk d) {
        d.ordinal = disks.size();
        d.age_seconds = 3600 + static_cast<std::int64_t>(random.below(std::uint64_t{2} * 365 * 86400));
        d.encrypt = d.usage == "DATA_DISK" && random.chance(0.05);
        if (attrs.chance(0.2)) {
            d.charge_type = "PREPAID";
            d.prepaid_seconds_left = (1 + static_cast<std::int64_t>(attrs.below(365))) * 86400;
        }
        d.project_id = pick(attrs, projects);
        if (auto it = instance_by_id.find(d.instance_id); it != instance_by_id.end()) d.tags = it->second.tags;
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
        instance_info info;
        const std::string team = pick(attrs, teams);
        info.name = team + "-" + std::to_string(i);
        info.ip = "10." + std::to_string((i >> 16) & 0xff) + "." + std::to_string((i >> 8) & 0xff) + "." +
                  std::to_string(i & 0xff);
        if (attrs.chance(0.8)) info.tags.push_back(tag{"env", pick(attrs, envs)});
        if (attrs.chance(0.6)) info.tags.push_back(tag{"team", team});
        instance_by_id.emplace(ins, std::move(info));
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
        if (attrs.chance(0.5)) d.tags.push_back(tag{"env", pick(attrs, envs)});
        add_disk(std::move(d));
    }
}

void fleet_impl::move_disk(disk& d, const std::string& to_instance) {
    auto& from = disks_by_instance[d.instance_id];
    from.erase(std::remove(from.begin(), from.end(), d.ordinal), from.end());
    if (from.empty()) disks_by_instance.erase(d.instance_id);
    auto& to = disks_by_instance[to_instance];
    to.insert(std::upper_bound(to.begin(), to.end(), d.ordinal), d.ordinal);  // keep fleet order
    d.instance_id = to_instance;
}

void fleet_impl::make_realistic() {
    // Its own stream: the base fleet stays the same with realistic on or off.
    rng odd(cfg.seed ^ 0x0dd1ULL);
    const std::size_t n = instances.size();
    if (n == 0) return;
    std::size_t per_kind = static_cast<std::size_t>(std::llround(cfg.odd_fraction * static_cast<double>(n)));
    if (per_kind == 0 && cfg.odd_fraction > 0 && n >= 10) per_kind = 1;
    // Five kinds on distinct instances: a seeded shuffle, then consecutive slices.
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[odd.below(i)]);
    std::size_t next = 0;
    auto take = [&]() -> const std::string* { return next < n ? &instances[order[next++]] : nullptr; };

    auto data_disks = [&](const std::string& ins) {
        std::vector<std::size_t> out;
        for (auto o : disks_by_instance[ins])
            if (disks[o].usage == "DATA_DISK") out.push_back(o);
        return out;
    };
    auto new_data_disk = [&](const std::string& ins, const std::string& state) -> disk& {
        const auto& sys = disks[disks_by_instance[ins].front()];
        disk d;
        d.ordinal = disks.size();
        d.id = new_id("disk-");
        d.name = ins + "-data" + std::to_string(data_disks(ins).size());
        d.instance_id = ins;
        d.usage = "DATA_DISK";
        d.type = pick(odd, data_types);
        d.state = state;
        d.zone = sys.zone;
        d.size_gib = pick(odd, data_sizes);
        d.age_seconds = 3600 + static_cast<std::int64_t>(odd.below(std::uint64_t{365} * 86400));
        d.tags = instance_by_id[ins].tags;
        disk_by_id.emplace(d.id, d.ordinal);
        disks_by_instance[ins].push_back(d.ordinal);
        disks.push_back(std::move(d));
        return disks.back();
    };
    // A change under way since `ago` before the first request, done `ahead` after it (scaled).
    auto schedule = [&](disk& d, change_kind kind, double ago_lo, double ago_hi, double ahead_lo, double ahead_hi) {
        d.change = kind;
        d.change_from = -scaled(seconds_between(odd, ago_lo, ago_hi));
        d.change_to = scaled(seconds_between(odd, ahead_lo, ahead_hi));
        changing.push_back(d.ordinal);
    };

    for (std::size_t k = 0; k < per_kind; ++k) {
        // Many data disks (up to the instance maximum).
        if (const auto* ins = take()) {
            const auto have = data_disks(*ins).size();
            const auto want = 8 + odd.below(13);  // 8-20
            for (auto i = have; i < want && i < max_data_disks; ++i) new_data_disk(*ins, "ATTACHED");
        }
        // Migrating: any disk of the instance, for seconds to minutes.
        if (const auto* ins = take()) {
            const auto& all = disks_by_instance[*ins];
            disk& d = disks[all[odd.below(all.size())]];
            d.migrating = true;
            schedule(d, change_kind::migrating, 0, 60, 5, 120);
        }
        // Rolling back (DiskState ROLLBACKING while it lasts).
        if (const auto* ins = take()) {
            const auto& all = disks_by_instance[*ins];
            disk& d = disks[all[odd.below(all.size())]];
            d.rollbacking = true;
            d.state = "ROLLBACKING";
            schedule(d, change_kind::rollbacking, 0, 30, 10, 180);
        }
        // A data disk being attached to the instance.
        if (const auto* ins = take()) schedule(new_data_disk(*ins, "ATTACHING"), change_kind::attaching, 0, 5, 2, 30);
        // A data disk being detached (then UNATTACHED, no longer the instance's).
        if (const auto* ins = take()) {
            auto data = data_disks(*ins);
            disk& d = data.empty() ? new_data_disk(*ins, "DETACHING") : disks[data[odd.below(data.size())]];
            d.state = "DETACHING";
            schedule(d, change_kind::detaching, 0, 5, 2, 30);
        }
    }
}

}  // namespace cbs::emu::detail
