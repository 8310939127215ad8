// The gateway's regions: the fleets of fleet.region and fleet_regions, each
// with its own state, their ids unique across regions (one shared registry),
// and the empty fleets of the other accepted regions, made on first use.
#include "gateway.hpp"

#include <algorithm>
#include <stdexcept>

namespace cbs::emu::detail {

namespace {

/// FNV-1a of the region's name, mixed with the fleet's seed (splitmix64
/// finaliser): portable, unlike std::hash, so the same params build the same
/// fleets everywhere.
std::uint64_t region_seed(std::uint64_t seed, std::string_view region) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (char c : region) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
    std::uint64_t z = seed ^ h;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

}  // namespace

void gateway::build_fleets() {
    fleet_regions_.push_back(params_.fleet.region);
    for (const auto& r : params_.fleet_regions)
        if (std::find(fleet_regions_.begin(), fleet_regions_.end(), r) == fleet_regions_.end())
            fleet_regions_.push_back(r);
    for (const auto& r : fleet_regions_) {
        fleet_params p = params_.fleet;
        p.region = r;
        // fleet.region keeps fleet.seed: one region builds exactly the fleet it always did.
        if (r != params_.fleet.region) p.seed = region_seed(params_.fleet.seed, r);
        fleets_.emplace(r, std::make_unique<fleet_state>(p, ids_));
    }
}

fleet_state& gateway::fleet_for(std::string_view region) {
    auto it = fleets_.find(region);
    if (it == fleets_.end()) {
        fleet_params p = params_.fleet;
        p.region = std::string(region);
        p.instances = 0;
        p.unattached_disks = 0;
        it = fleets_.emplace(std::string(region), std::make_unique<fleet_state>(p, ids_)).first;
    }
    return *it->second;
}

void gateway::inspect(const std::function<void(fleet_state&)>& f) {
    std::lock_guard lock(mu_);
    f(fleet_for(params_.fleet.region));
}

void gateway::inspect(const std::string& region, const std::function<void(fleet_state&)>& f) {
    std::lock_guard lock(mu_);
    const bool accepted = fleets_.count(region) != 0 ||
                          std::find(params_.regions.begin(), params_.regions.end(), region) != params_.regions.end();
    if (!accepted) throw std::invalid_argument("cbs emulator: inspect: the region '" + region + "' is not accepted");
    f(fleet_for(region));
}

std::vector<std::string> gateway::fleet_regions() const {
    std::lock_guard lock(mu_);
    return fleet_regions_;
}

}  // namespace cbs::emu::detail
