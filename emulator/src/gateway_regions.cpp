// The gateway's regions: the fleets of fleet.region and fleet_regions, each
// with its own state, their ids unique across regions (one shared registry),
// and the empty fleets of the other accepted regions, made on first use; and
// their state across restarts (persist_state): <state_dir>/state.json.
#include "gateway.hpp"
#include "state_file.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace cbs::emu::detail {

namespace json = boost::json;

namespace {

constexpr std::string_view state_format = "cbs-emulator-state";
constexpr std::int64_t state_version = 1;

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

fleet_params gateway::params_for(const std::string& region) const {
    fleet_params p = params_.fleet;
    p.region = region;
    // fleet.region keeps fleet.seed: one region builds exactly the fleet it always did.
    if (region != params_.fleet.region) p.seed = region_seed(params_.fleet.seed, region);
    return p;
}

void gateway::build_fleets() {
    fleet_regions_.push_back(params_.fleet.region);
    for (const auto& r : params_.fleet_regions)
        if (std::find(fleet_regions_.begin(), fleet_regions_.end(), r) == fleet_regions_.end())
            fleet_regions_.push_back(r);
    if (params_.persist_state) {
        const auto path = (std::filesystem::path(params_.state_dir) / state_file_name).string();
        if (std::filesystem::exists(path)) load_state(path);
    }
    // The saved state wins; a fleet region the file does not have is built.
    for (const auto& r : fleet_regions_)
        if (!fleets_.count(r)) fleets_.emplace(r, std::make_unique<fleet_state>(params_for(r), ids_));
}

void gateway::load_state(const std::string& path) {
    auto bad = [&](const std::string& what) {
        throw std::runtime_error("cbs emulator: the state file " + path + " " + what);
    };
    std::ifstream in(path, std::ios::binary);
    if (!in) bad("cannot be read");
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    boost::system::error_code ec;
    const json::value doc = json::parse(text, ec);
    if (ec) bad("is not valid JSON (" + ec.message() + "); remove it to start from a fresh fleet");
    const auto* top = doc.if_object();
    const auto* format = top ? top->if_contains("format") : nullptr;
    if (!format || !format->is_string() || format->get_string() != state_format)
        bad("is not a CBS emulator state file (no \"format\": \"cbs-emulator-state\")");
    const auto* version = top->if_contains("version");
    if (!version || !version->is_int64() || version->get_int64() != state_version)
        bad("has a version this emulator does not read (it reads version 1)");
    const auto* ids = top->if_contains("ids");
    const auto* regions = top->if_contains("regions");
    if (!ids || !ids->is_array()) bad("has no \"ids\" array");
    if (!regions || !regions->is_object()) bad("has no \"regions\" object");
    for (const auto& id : ids->get_array()) {
        if (!id.is_string()) bad("has an id that is not a string in \"ids\"");
        ids_->ids.emplace(id.get_string());
    }
    const auto now = params_.steady_now();
    for (const auto& kv : regions->get_object()) {
        const std::string region(kv.key());
        if (std::find(params_.regions.begin(), params_.regions.end(), region) == params_.regions.end())
            bad("holds the region '" + region + "', which this emulator does not accept");
        if (!kv.value().is_object()) bad("region '" + region + "': not an object");
        try {
            fleets_.emplace(region, std::make_unique<fleet_state>(
                                        fleet_state::load(params_for(region), kv.value().get_object(), ids_, now)));
        } catch (const std::exception& e) {
            bad("region '" + region + "': " + e.what());
        }
    }
}

void gateway::changed() {
    ++state_version_;
    if (on_change_) on_change_();
}

std::optional<std::string> gateway::state_if_changed() {
    std::lock_guard lock(mu_);
    if (state_version_ == saved_version_) return std::nullopt;
    saved_version_ = state_version_;
    const auto now = params_.steady_now();
    json::object regions;
    for (const auto& [region, fleet] : fleets_) regions[region] = fleet->save(now);
    std::vector<std::string> ids(ids_->ids.begin(), ids_->ids.end());
    std::sort(ids.begin(), ids.end());  // the same state, the same file
    json::array id_array;
    id_array.reserve(ids.size());
    for (auto& id : ids) id_array.emplace_back(std::move(id));
    const auto saved_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    json::object doc{{"format", state_format},
                     {"version", state_version},
                     {"saved_unix_ms", saved_ms},
                     {"ids", std::move(id_array)},
                     {"regions", std::move(regions)}};
    return json::serialize(doc) + "\n";
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

// Inspection may change the state (the test hooks): counted as a change.
void gateway::inspect(const std::function<void(fleet_state&)>& f) {
    std::lock_guard lock(mu_);
    f(fleet_for(params_.fleet.region));
    changed();
}

void gateway::inspect(const std::string& region, const std::function<void(fleet_state&)>& f) {
    std::lock_guard lock(mu_);
    const bool accepted = fleets_.count(region) != 0 ||
                          std::find(params_.regions.begin(), params_.regions.end(), region) != params_.regions.end();
    if (!accepted) throw std::invalid_argument("cbs emulator: inspect: the region '" + region + "' is not accepted");
    f(fleet_for(region));
    changed();
}

std::vector<std::string> gateway::fleet_regions() const {
    std::lock_guard lock(mu_);
    return fleet_regions_;
}

}  // namespace cbs::emu::detail
