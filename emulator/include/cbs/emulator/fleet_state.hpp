// cbs-async emulator: the service's state and the actions on it (pure: no
// I/O, no clock of its own; the server passes `now` in). Thread-safety: none;
// the server serialises calls (one strand or a mutex).
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace cbs::emu {

using clock = std::chrono::steady_clock;

/// The ids fleets have handed out (instances, disks, groups, snapshots).
/// The fleets of several regions share one, so that no id is handed out
/// twice across regions; an id is never handed out again, even after its
/// group is deleted.
struct id_registry {
    std::unordered_set<std::string> ids;
};

/// Shape of the synthetic fleet. Same seed, same fleet.
struct fleet_params {
    std::uint64_t seed = 1;             ///< default 1
    std::size_t instances = 200;        ///< instances "ins-xxxxxxxx"; default 200
    std::size_t unattached_disks = 10;  ///< extra UNATTACHED data disks; default 10
    double no_snapshot_ability = 0.02;  ///< fraction of data disks with SnapshotAbility=false; default 0.02
    double migrating = 0.0;             ///< fraction of attached disks Migrating=true; default 0
    double rollbacking = 0.0;           ///< fraction of attached disks Rollbacking=true; default 0
    /// Most live snapshots the region may hold (the account's quota in this
    /// region; member snapshots of groups count, those of FAILED groups do
    /// not). A CreateSnapshotGroup that would go over it answers
    /// InsufficientSnapshotQuota and creates nothing; deleting groups frees
    /// quota. Default 0: unlimited.
    std::size_t snapshot_quota = 0;
    std::chrono::milliseconds creating_time{3000};  ///< CREATING -> NORMAL after this; default 3 s
    /// How long an accepted ApplySnapshotGroup rolls back (group
    /// ROLLBACKING, its disks DiskState ROLLBACKING with RollbackPercent
    /// rising), on the steady clock, times time_scale. Default 5 s.
    std::chrono::milliseconds rollback_time{5000};
    std::string region = "ap-guangzhou";  ///< Placement.Zone prefix; default ap-guangzhou
    /// Listing lag: a group created at steady time T is left out of every
    /// DescribeSnapshotGroups answer (by id, by name, unfiltered) until
    /// T + list_lag, and its snapshots out of DescribeSnapshots, as an
    /// eventually consistent listing would. It exists meanwhile: it counts
    /// against the quota, keeps its disks busy and can be deleted by id once
    /// it is no longer CREATING. Default 0 (listed at once).
    std::chrono::milliseconds list_lag{0};
    /// The system clock that times in responses (CreateTime, ModifyTime,
    /// DeadlineTime) come from: the first `now` passed to handle() stands
    /// for system_now() at that moment (unless set_time_origin() says
    /// otherwise), later steady times are offset from it. Default empty:
    /// std::chrono::system_clock::now. Tests inject a fixed clock.
    std::function<std::chrono::system_clock::time_point()> system_now;
    /// Offset of the time zone the times are written in, "YYYY-MM-DD hh:mm:ss"
    /// as the service writes them (Beijing time). Default +8 h.
    std::chrono::minutes utc_offset{8 * 60};

    /// Multiplies every seeded duration (creation times with
    /// uneven_creation, the state changes of realistic mode) and the fixed
    /// creating_time, so tests can run a realistic timeline fast. > 0.
    /// Default 1.
    double time_scale = 1.0;
    /// Creation time per group drawn from a seeded long-tailed distribution
    /// around creating_time (with the default 3 s: most groups take 1.5-6 s,
    /// about one in eight 6-60 s, one in fifty 1-5 min), and Percent rising
    /// unevenly (a seeded piecewise curve per group). Default false: every
    /// group takes exactly creating_time with a linear Percent.
    bool uneven_creation = false;
    /// Fraction of groups that end FAILED (SnapshotGroupState FAILED) part way
    /// through creation instead of NORMAL: Percent stops where it was, the
    /// member snapshots are gone, the disks are free again, the group can be
    /// deleted. Drawn per group from the seed. In [0, 1]. Default 0.
    double failed_fraction = 0.0;
    /// Realistic fleet, seeded: implies uneven_creation; per odd kind about
    /// odd_fraction of the instances (at least one each when there are 10 or
    /// more) have a disk that is migrating (CreateSnapshotGroup answers
    /// ResourceInUse.DiskMigrating until the migration ends), rolling back
    /// (ResourceInUse.DiskRollbacking, DiskState ROLLBACKING), attaching
    /// (DiskState ATTACHING, ResourceInUse, then ATTACHED) or detaching
    /// (DETACHING, ResourceInUse, then UNATTACHED and gone from the
    /// instance); as many instances get 8-20 data disks. Each change happens
    /// at a seeded time (seconds to minutes, times time_scale) after the
    /// first request. Default false.
    bool realistic = false;
    /// Share of the instances per odd kind in realistic mode, in [0, 0.2].
    /// Default 0.03.
    double odd_fraction = 0.03;
};

/// An API-level failure: the envelope's Error.Code and Error.Message.
struct api_failure {
    std::string code;
    std::string message;
};

/// The outcome of one action: the Response fields (without RequestId), or a failure.
struct action_result {
    boost::json::object response;
    std::optional<api_failure> error;
};

struct disk_view {
    std::string disk_id, instance_id, disk_usage, disk_state;
    bool snapshot_ability = true, migrating = false, rollbacking = false;
    /// Realistic mode: the disk's state changes at this steady time
    /// (migration or rollback ends, attach or detach completes); nullopt if
    /// nothing is pending.
    std::optional<clock::time_point> changes_at;
    /// RollbackPercent as DescribeDisks shows it (100 after a rollback).
    int rollback_percent = 0;
    /// The snapshot the disk was last rolled back to by ApplySnapshotGroup
    /// ("" if never).
    std::string restored_from = {};
};

/// A tag on an instance, a disk or a group.
struct tag_view {
    std::string key, value;
};

struct group_view {
    std::string group_id, name, state;  // state CREATING | NORMAL | FAILED | ROLLBACKING
    std::vector<std::string> disk_ids, snapshot_ids;
    std::string instance_id;     ///< the instance the disks were attached to at creation
    int percent = 0;             ///< creation progress, 100 once NORMAL (frozen once FAILED)
    bool listed = true;          ///< DescribeSnapshotGroups shows it (false during the listing lag)
    std::vector<tag_view> tags;  ///< the Tags bound at creation (DescribeSnapshotGroups does not show them)
};

class fleet_state {
public:
    explicit fleet_state(const fleet_params& params);
    /// A fleet whose ids are drawn unique within `ids` (shared with other
    /// fleets). Throws std::invalid_argument for a null registry.
    fleet_state(const fleet_params& params, std::shared_ptr<id_registry> ids);

    /// Runs `action` with its request parameters at time `now`. Unknown
    /// actions: InvalidAction. Unknown top-level parameters: UnknownParameter.
    /// Wrong types / values: InvalidParameter / InvalidParameterValue /
    /// MissingParameter, with messages naming the field, as the service does.
    action_result handle(std::string_view action, const boost::json::object& params, clock::time_point now);

    /// True for the actions this emulator implements.
    static bool known_action(std::string_view action);

    // ---- inspection for tests (not part of the API surface) ----
    std::vector<std::string> instance_ids() const;
    std::vector<disk_view> disks_of(std::string_view instance_id) const;
    std::vector<group_view> groups() const;
    /// Groups whose disks belong to `instance_id`.
    std::vector<group_view> groups_of(std::string_view instance_id) const;
    /// Every group named exactly `name`, listed or not (the true state,
    /// whatever the listing lag), in creation order.
    std::vector<group_view> groups_named(std::string_view name) const;
    /// Marks a disk busy as if a snapshot were being created on it until `until`.
    /// Throws std::invalid_argument for an unknown disk (as do the setters below).
    void set_disk_busy(std::string_view disk_id, clock::time_point until);

    // ---- additions (inspection and test hooks) ----
    /// disks_of("") gives the unattached disks. Group/snapshot states in
    /// these views are evaluated at the latest `now` passed to handle().
    std::optional<disk_view> disk(std::string_view disk_id) const;
    void set_snapshot_ability(std::string_view disk_id, bool able);
    void set_migrating(std::string_view disk_id, bool migrating);
    void set_rollbacking(std::string_view disk_id, bool rollbacking);
    /// Sets the instance's tags and those of every disk attached to it (the
    /// DescribeDisks tag filters look at disk tags). std::invalid_argument
    /// for an unknown instance.
    void set_instance_tags(std::string_view instance_id, const std::vector<tag_view>& tags);
    std::vector<tag_view> instance_tags(std::string_view instance_id) const;
    /// Live snapshots in the region (what the quota counts).
    std::size_t snapshot_count() const;
    /// An instance's state, "RUNNING" (the default) or "STOPPED", which
    /// ApplySnapshotGroup looks at. std::invalid_argument for an unknown
    /// instance or another state.
    void set_instance_state(std::string_view instance_id, std::string_view state);
    /// "RUNNING" or "STOPPED"; "" for an unknown instance.
    std::string instance_state(std::string_view instance_id) const;
    /// Moves a disk to another instance (ATTACHED) or detaches it
    /// (`instance_id` "": UNATTACHED), as an attach or detach that already
    /// completed. std::invalid_argument for an unknown disk or instance.
    void set_disk_instance(std::string_view disk_id, std::string_view instance_id);
    /// Maps steady time to wall time for the times in responses: `steady`
    /// stands for `wall`. Without it the first `now` passed to handle()
    /// stands for params.system_now() at that moment.
    void set_time_origin(clock::time_point steady, std::chrono::system_clock::time_point wall);

    // ---- persistence (emulator_params::persist_state) ----
    /// The whole state as JSON (instances and their states, disks, groups,
    /// snapshots, the id and random-draw counters), every time written as
    /// unix milliseconds so that it means the same after a restart. `now`:
    /// the steady time the save is made at (the emulator's steady_now()).
    /// The registry of ids is not included (it may be shared).
    boost::json::object save(clock::time_point now) const;
    /// A fleet from save()'s JSON: times are mapped back through
    /// params.system_now() at `now`, so a group CREATING or ROLLBACKING when
    /// saved finishes by the time elapsed since. Its ids are added to `ids`.
    /// Throws std::runtime_error naming the field that is missing or wrong,
    /// std::invalid_argument for bad params.
    static fleet_state load(const fleet_params& params, const boost::json::object& saved,
                            std::shared_ptr<id_registry> ids, clock::time_point now);

private:
    struct impl;
    explicit fleet_state(std::shared_ptr<impl> i) : impl_(std::move(i)) {}
    std::shared_ptr<impl> impl_;
};

}  // namespace cbs::emu
