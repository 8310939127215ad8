// cbs-async emulator: internals of fleet_state shared by the fleet_*.cpp files.
#pragma once

#include <cbs/emulator/fleet_state.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace cbs::emu::detail {

namespace json = boost::json;

// ---- errors: thrown inside an action, turned into action_result::error ----

/// Thrown by validation and the actions; handle() catches it. Exceptions keep
/// the many early exits of parameter checking short; they only occur on error
/// paths, never on the hot success path.
struct api_error {
    api_failure failure;
};

[[noreturn]] void fail(std::string code, std::string message);

// ---- request parameters (the JSON body of an API 3.0 POST) ----

/// UnknownParameter for the first top-level field not in `known`.
void check_known(const json::object& params, std::initializer_list<std::string_view> known);

/// Typed readers: nullopt when absent; InvalidParameter naming the field when
/// present with the wrong JSON type.
std::optional<std::string> get_string(const json::object& params, std::string_view name);
std::optional<std::vector<std::string>> get_string_array(const json::object& params, std::string_view name);
std::optional<std::int64_t> get_int(const json::object& params, std::string_view name);
std::optional<bool> get_bool(const json::object& params, std::string_view name);

struct filter {
    std::string name;
    std::vector<std::string> values;
    std::unordered_set<std::string> value_set;  // for O(1) membership tests
    bool matches(const std::string& v) const { return value_set.count(v) != 0; }
};

/// Filters.N: [{"Name": ..., "Values": [...]}]. Checks shape only (types,
/// missing Name/Values, unknown keys, empty Values); names are checked by
/// the action, which knows its own filter list.
std::optional<std::vector<filter>> get_filters(const json::object& params);

struct page {
    std::size_t offset = 0;
    std::size_t limit = 20;
};

/// Offset (default 0, >= 0) and Limit (default 20, 1..100). Out-of-range
/// values fail with `range_code`: actions differ in their documented codes.
page get_page(const json::object& params, const std::string& range_code);

/// Slices [offset, offset+limit) of `items`.
template <class T>
std::vector<T> slice(const std::vector<T>& items, const page& p) {
    if (p.offset >= items.size()) return {};
    auto first = items.begin() + static_cast<std::ptrdiff_t>(p.offset);
    auto last = items.size() - p.offset <= p.limit ? items.end() : first + static_cast<std::ptrdiff_t>(p.limit);
    return {first, last};
}

/// Most ids in one DiskIds (CreateSnapshotGroup, DescribeDisks): more is
/// InvalidParameterValue, as a strict server answers.
inline constexpr std::size_t max_disk_ids = 64;

/// "prefix-" followed by 8 of [a-z0-9].
bool well_formed_id(std::string_view id, std::string_view prefix);

// ---- model ----

struct tag {
    std::string key, value;
};

/// A state change under way on a disk (realistic mode). Its times are
/// offsets from the steady origin (the first request), which is not known
/// yet when the fleet is built.
enum class change_kind { none, migrating, rollbacking, attaching, detaching };

struct disk {
    std::size_t ordinal = 0;  // position in fleet order
    std::string id, name, instance_id, usage, type, state, zone;
    std::string charge_type = "POSTPAID_BY_HOUR";
    std::int64_t project_id = 0;
    std::vector<tag> tags;  // the instance's at creation (set_instance_tags updates both)
    bool snapshot_ability = true, migrating = false, rollbacking = false, encrypt = false;
    int migrate_percent = 0, rollback_percent = 0;
    std::int64_t size_gib = 0;
    std::int64_t age_seconds = 0;           // CreateTime = wall origin - age
    std::int64_t prepaid_seconds_left = 0;  // PREPAID: DeadlineTime = wall origin + this
    change_kind change = change_kind::none;
    clock::duration change_from{}, change_to{};  // offsets from the steady origin
    std::size_t snapshot_count = 0;              // live snapshots of this disk
    // A snapshot is being created on the disk until then (group creation or
    // set_disk_busy). Deleting a group never lowers it: CREATING groups can't
    // be deleted, and a NORMAL group's time is already past.
    clock::time_point busy_until{};
    std::string restored_from;  // the snapshot of the last ApplySnapshotGroup ("" if none)
};

struct snapshot {
    std::uint64_t seq = 0;
    std::string id, name, disk_id, group_id;
    clock::time_point created{}, ready_at{};
};

/// An ApplySnapshotGroup under way on a group (fleet_rollback.cpp).
struct rollback {
    clock::time_point from{}, to{};                          // ROLLBACKING in [from, to)
    std::string instance_id;                                 // the disks' instance ("" if none attached)
    bool auto_start = false;                                 // the instance is RUNNING again afterwards
    std::vector<std::pair<std::string, std::string>> pairs;  // (SnapshotId, DiskId) as applied
};

struct group {
    std::uint64_t seq = 0;
    std::string id, name, instance_id;
    std::vector<std::string> disk_ids, snapshot_ids;
    std::vector<tag> tags;
    bool contains_root = false;
    // CREATING until ready_at; then NORMAL, or FAILED if `fails` (ready_at is
    // then the failure time, before nominal_end). Percent follows a
    // piecewise-linear curve from created to nominal_end through `knots`.
    bool fails = false;
    clock::time_point created{}, ready_at{}, nominal_end{};
    std::vector<std::pair<double, double>> knots;  // (time fraction, percent), rising; empty: linear
    std::optional<rollback> rolling;               // an ApplySnapshotGroup under way
};

struct instance_info {
    std::string name, ip;
    std::vector<tag> tags;
    std::string state = "RUNNING";  // RUNNING | STOPPED
};

/// Deterministic generator (splitmix64): portable, unlike the std
/// distributions whose output differs between standard libraries.
class rng {
public:
    explicit rng(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next();
    std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
    std::uint64_t state() const { return state_; }  // saved and restored with the fleet
    void restore(std::uint64_t state) { state_ = state; }
    double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    bool chance(double p) { return unit() < p; }

private:
    std::uint64_t state_;
};

struct fleet_impl {
    /// Checks `p` and builds the seeded fleet.
    fleet_impl(const fleet_params& p, std::shared_ptr<id_registry> registry);
    /// Checks `p`, builds nothing (the state is then loaded: fleet_persist.cpp).
    struct unbuilt {};
    fleet_impl(const fleet_params& p, std::shared_ptr<id_registry> registry, unbuilt);

    fleet_params cfg;
    rng random;

    std::vector<std::string> instances;  // fleet order
    std::unordered_map<std::string, instance_info> instance_by_id;
    std::vector<disk> disks;                                                      // fleet order; never removed
    std::unordered_map<std::string, std::size_t> disk_by_id;                      // -> ordinal
    std::unordered_map<std::string, std::vector<std::size_t>> disks_by_instance;  // "" = unattached

    std::map<std::uint64_t, group> groups;  // by seq = creation order
    std::unordered_map<std::string, std::uint64_t> group_by_id;
    std::unordered_map<std::string, std::set<std::uint64_t>> groups_by_name;

    std::map<std::uint64_t, snapshot> snapshots;  // by seq = creation order
    std::unordered_map<std::string, std::uint64_t> snapshot_by_id;
    std::unordered_map<std::string, std::set<std::uint64_t>> snapshots_by_disk;

    std::shared_ptr<id_registry> used_ids;  // ids are never reused (shared by the regions' fleets)
    std::uint64_t next_seq = 1;

    rng timing;                         // per-group draws (duration, failure, curve), in request order
    std::vector<std::size_t> changing;  // disks with a pending change
    std::set<std::pair<clock::time_point, std::uint64_t>> failing;    // (failure time, group seq)
    std::set<std::pair<clock::time_point, std::uint64_t>> rollbacks;  // (rollback end, group seq)

    // Wall-clock mapping: `steady_origin` stands for `wall_origin_ms` (Unix ms).
    std::optional<clock::time_point> steady_origin;
    std::int64_t wall_origin_ms = 0;
    clock::time_point latest_now{};  // for the inspection views

    /// Fixes the time origin on the first call, then applies every state
    /// change due by `now` (disk changes, group failures).
    void observe(clock::time_point now);
    void settle(clock::time_point now);
    void drop_snapshots(group& g);  // removes g's member snapshots from the account
    clock::duration scaled(clock::duration d) const;
    clock::time_point at_offset(clock::duration offset) const { return steady_origin.value_or(latest_now) + offset; }

    // fleet building (fleet_build.cpp)
    void build();
    void make_realistic();
    void move_disk(disk& d, const std::string& to_instance);  // re-index under another instance ("" = none)

    std::string new_id(std::string_view prefix);
    disk& disk_at(std::string_view id);  // std::invalid_argument if unknown
    const disk* find_disk(std::string_view id) const;

    /// "YYYY-MM-DD HH:MM:SS" in the configured zone (Beijing time by default), as the service writes it.
    std::string wall_time(clock::time_point t) const;
    std::string disk_create_time(const disk& d) const;
    std::string disk_deadline_time(const disk& d) const;

    bool creating(const group& g, clock::time_point now) const { return now < g.ready_at; }
    bool rolling_back(const group& g, clock::time_point now) const { return g.rolling && now < g.rolling->to; }
    /// CREATING | NORMAL | FAILED | ROLLBACKING
    const char* group_state(const group& g, clock::time_point now) const {
        return creating(g, now) ? "CREATING" : g.fails ? "FAILED" : rolling_back(g, now) ? "ROLLBACKING" : "NORMAL";
    }
    /// CREATING | NORMAL | ROLLBACKING (a member snapshot being applied)
    const char* snapshot_state(const snapshot& s, clock::time_point now) const;
    /// Draws a new group's timeline (duration, failure, Percent curve) from `timing`.
    void draw_timeline(group& g, clock::time_point now);
    /// Shown by DescribeSnapshotGroups / DescribeSnapshots at `now` (listing lag).
    bool listed(const group& g, clock::time_point now) const { return now >= g.created + cfg.list_lag; }
    bool listed(const snapshot& s, clock::time_point now) const { return now >= s.created + cfg.list_lag; }
    int percent(const group& g, clock::time_point now) const;

    // actions (fleet_disks.cpp, fleet_groups.cpp, fleet_snapshots.cpp)
    json::object describe_disks(const json::object& params, clock::time_point now);
    bool disk_matches(const disk& d, const std::vector<filter>& filters) const;
    json::object create_snapshot_group(const json::object& params, clock::time_point now);
    json::object describe_snapshot_groups(const json::object& params, clock::time_point now);
    json::object delete_snapshot_group(const json::object& params, clock::time_point now);
    json::object apply_snapshot_group(const json::object& params, clock::time_point now);
    /// Rollbacks: Percent while under way, the end when due (fleet_rollback.cpp).
    void settle_rollbacks(clock::time_point now);
    json::object describe_snapshots(const json::object& params, clock::time_point now);

    group_view view(const group& g) const;

    // persistence (fleet_persist.cpp): times as unix milliseconds
    json::object save(clock::time_point now) const;
    void load(const json::object& saved, clock::time_point now);
};

/// Sorted, de-duplicated positions (for candidate sets gathered from indexes).
template <class T>
void sort_unique(std::vector<T>& v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace cbs::emu::detail

// The pimpl in the public header is `fleet_state::impl`; it is this.
struct cbs::emu::fleet_state::impl : cbs::emu::detail::fleet_impl {
    using fleet_impl::fleet_impl;
};
