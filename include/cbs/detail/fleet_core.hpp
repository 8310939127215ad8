// cbs-async: the sans-io core of the fleet engine. Every decision of a fleet
// run is made here, from events ("create answered X", "lookup returned Y",
// "the time is T"), with no I/O and no clock of its own: the driver
// (detail/fleet_driver.hpp) does the calls and feeds the answers in; the unit
// tests (test/unit/test_fleet_core.cpp) feed them by hand on a fake clock.
//
// The core owns the report; the driver reads it. Effects that the driver must
// carry out besides the calls it is asked for (journal records, progress
// events) are queued as `core_effect`s and taken with take_effects().
//
// Decision table (the tests name each row):
//
//   Planning (plan_disks, finish_planning)
//   P1  SnapshotAbility false                       -> disk skipped "SnapshotAbility is false"
//   P2  system disk with data_disks_only            -> disk skipped
//   P3  state not ATTACHED/ATTACHING                -> disk skipped "disk state X"
//   P4  migrating / rolling back / ATTACHING        -> busy: the driver re-describes the
//                                                      instance every poll_interval ...
//   P5  ... still busy at busy_disk_wait            -> disk skipped with the reason and the wait
//   P6  no disk left, some were busy                -> instance failed ResourceInUse.DiskBusy
//   P7  no disk left, none busy, some skipped       -> instance skipped
//   P8  no disk at all                              -> instance failed InvalidInstanceId.NotFound
//   P9  malformed instance id                       -> instance failed InvalidInstanceId.Malformed
//   P10 instance of another shard (fleet_shard_of)  -> counted in listed_instances only: never
//                                                      planned, looked up, created, swept or reported
//
//   First lookup of every planned name (on_first_lookup), whatever the journal says
//   A1  groups named exactly so (1+)                -> created, adopted (the oldest; others are
//                                                      duplicates for the sweep)
//   A2  none; journal has a group id                -> created (from the journal)
//   A3  none; journal has intents and no result     -> reconciling (looked up over the window
//                                                      before any send; intents count as sends)
//   A4  none; nothing journaled                     -> ready
//
//   Create answered (on_create_answer), instance `sending`
//   C1  ok(group id)                                -> created
//   C2  outcome unknown                             -> reconciling: window from now
//   C3  busy DiskMigrating / DiskRollbacking        -> refresh disks (the driver re-describes the
//                                                      instance): busy disks are skipped; ready
//                                                      again with the rest / failed if none left
//                                                      or none was flagged (on_disks_refreshed)
//   C4  other busy, after an unknown send           -> reconciling (our earlier send may be it)
//   C5  other busy, before instance_deadline        -> retry_wait (ready after a gap)
//   C6  other busy, past instance_deadline          -> failed
//   C7  any other failure                           -> failed (the sweep still adopts the name
//                                                      if an earlier unknown send shows up)
//   C8  cancelled before sending                    -> pending (unknown if an earlier send was)
//
//   Reconciling (on_lookup), over [unknown answer, +consistency_window]
//   R1  exact name found                            -> created, adopted
//   R2  not found, window open                      -> next lookup after a gap (window/16,
//                                                      doubling, never past the window's end)
//   R3  not found, window over, resends left        -> ready (send again)
//   R4  not found, window over, no resend left      -> unknown (final)
//   R5  lookup failed, window open                  -> next gap (as R2)
//   R6  lookup failed, window over                  -> unknown (never resend blind)
//   R7  stop (journal failed, cancelled)            -> unknown
//
//   Stop (on_stop: journal error or cancellation)
//   S0  ready / retry_wait                          -> pending (never sent) / unknown (sent before)
//
//   Waiting (on_listed): a group id listed NORMAL   -> normal
//   F1  a group id listed FAILED (or adopted so)    -> failed SnapshotGroupFailed (not
//                                                      created again under the same name)
//
//   Sweep (sweep_decide), every planned name listed once the window passed
//   W1  no group; created/normal                    -> unchanged (the id came from an answer)
//   W2  no group; other outcomes                    -> unchanged
//   W3  one group; unknown/failed/pending/ready     -> adopted (created / normal)
//   W4  recorded id not listed, another one is      -> keep the listed oldest; the recorded one
//                                                      is a duplicate, deleted by id (it is the
//                                                      newer, or another run deleted it)
//   W5  2+ groups, keep_duplicates                  -> failed, duplicates listed
//   W6  2+ groups                                   -> keep the oldest (CreateTime, then the
//                                                      smaller id: the same in every run); delete
//                                                      the others: CREATING ones wait, NORMAL
//                                                      ones are handed to the driver
//   Deletion answered (on_delete_answer)
//   D1  ok, or InvalidSnapshotId.NotFound           -> deleted (journal "deleted")
//   D2  any other failure                           -> failed "2 groups remain"
//   D3  UnsupportedOperation.StateError (CREATING), -> handed out again by the next listing
//       throttled, transient or network failure
//
//   Summary (summarize): all_ok = no failed, unknown or pending, nothing left
//   only `created` when waiting, not interrupted, no journal error.
#pragma once

#include <cbs/describe_actions.hpp>
#include <cbs/error.hpp>
#include <cbs/fleet_types.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace cbs {
struct journal_contents;
}

namespace cbs::detail {

using fleet_clock = std::chrono::steady_clock;
using fleet_time = fleet_clock::time_point;

/// Where an instance is in its life (outcome in the report says how it ended).
enum class fleet_phase {
    planning,     ///< disks known, maybe busy ones waited for
    lookup,       ///< planned: its name is looked up before anything is created
    ready,        ///< a create may be sent
    sending,      ///< a create is in flight (or its intent is being journaled)
    reconciling,  ///< an outcome is unknown: the name is looked up over the window
    retry_wait,   ///< a busy answer: ready again at retry_at
    refresh,      ///< busy disks: the driver re-describes the instance's disks
    created,      ///< a group id is known (not yet seen NORMAL)
    done,         ///< final: normal, skipped, failed, unknown or pending
};
std::string_view to_string(fleet_phase p) noexcept;

/// What a CreateSnapshotGroup call came to.
struct create_answer {
    enum kind_t { ok, unknown, busy, failed, cancelled } kind = failed;
    std::string group_id;  ///< ok
    std::string code;      ///< service code or client error name
    std::string message;   ///< diagnostics, for the report
};

/// Maps a create's result (error code + diagnostics + group id) to an answer.
create_answer classify_create(const error_code& ec, const diagnostics& diag, const std::string& group_id);

/// Something the driver must do besides the calls: a journal record and/or a
/// progress event, for instance `index`.
struct core_effect {
    std::size_t index = 0;
    std::string journal_state;  ///< "" none; else created, normal, unknown, failed, skipped, deleted
    std::string group_id;       ///< the record's group id (the deleted one for "deleted")
    fleet_event::kind event{};
    std::string detail;
};

/// A duplicate the driver should delete now.
struct sweep_delete {
    std::size_t index = 0;
    std::string group_id;
};

/// What one sweep listing decided.
struct sweep_decision {
    std::vector<sweep_delete> deletes;  ///< NORMAL duplicates to delete now
    std::size_t waiting = 0;            ///< duplicates still CREATING: list again later
};

/// What planning needs of a described disk. Not the whole `disk`: that holds
/// names, tags and times, and kept for every disk of 100,000 instances it made
/// the client side of a fleet run 300 MB instead of under 100.
struct planned_disk {
    std::string disk_id;
    std::string disk_state;  ///< DiskState as described (ATTACHED, ATTACHING, ...)
    bool system_disk = false;
    bool snapshot_ability = false;
    bool migrating = false;
    bool rollbacking = false;
    int migrate_percent = 0;
    int rollback_percent = 0;

    static planned_disk from(const disk& d) {
        return {d.disk_id,          d.disk_state,      d.disk_usage == "SYSTEM_DISK",
                d.snapshot_ability, d.migrating,       d.rollbacking,
                d.migrate_percent,  d.rollback_percent};
    }
};

/// Per-instance bookkeeping the report does not show.
struct instance_core {
    fleet_phase phase = fleet_phase::planning;
    std::vector<planned_disk> disks;  ///< as last described
    bool busy = false;                ///< some disk is migrating / rolling back / attaching
    bool ambiguous = false;           ///< a send's outcome was unknown
    unsigned journaled_intents = 0;   ///< sends of earlier runs (journal)
    unsigned resends = 0;             ///< sends after a window without the name (max_resends caps)
    fleet_time window_end{}, next_look{}, retry_at{}, first_busy{}, last_send{}, answer_at{};
    std::chrono::milliseconds gap{0};
    bool seen_listed = false;                  ///< the group id was seen in a listing
    fleet_time last_listed{};                  ///< when the group id was last seen in a listing
    fleet_time created_at{};                   ///< when the group id became known
    std::string recorded_create_time;          ///< CreateTime of the kept group, when listed
    std::vector<std::string> journal_deleted;  ///< groups earlier runs deleted (never adopted again)
};

class fleet_core {
public:
    /// `start`: the run's start (times in the report are from it).
    fleet_core(const fleet_params& params, fleet_time start);

    const fleet_params& params() const noexcept { return p_; }
    fleet_report& report() noexcept { return report_; }
    const fleet_report& report() const noexcept { return report_; }
    instance_core& state(std::size_t i) { return st_.at(i); }
    const instance_core& state(std::size_t i) const { return st_.at(i); }
    std::size_t size() const noexcept { return report_.instances.size(); }
    /// Index of an instance id, or npos.
    std::size_t find(std::string_view instance_id) const;
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);

    std::vector<core_effect> take_effects();

    // ---- planning ----------------------------------------------------------
    /// Whether an instance is in this run's shard (fleet_shard_of).
    bool in_shard(std::string_view instance_id) const noexcept;
    /// Instances of other shards seen in the list or in discovery.
    std::size_t other_shards() const noexcept { return other_shards_.size(); }

    /// Adds the instances given by id: those of this run's shard (in_shard);
    /// the others are only counted (report().listed_instances). Returns an
    /// error message for a duplicate id (P9 for malformed ones is a failed
    /// instance, not an error).
    std::string add_instances(const std::vector<std::string>& ids);
    /// Folds DescribeDisks results in (discover_all: instances come from the
    /// disks, those of other shards only counted; else disks of other
    /// instances are ignored). Replaces the disks
    /// of every instance the result names.
    void plan_disks(const std::vector<disk>& disks, bool discover_all);
    /// Instances with a busy disk that should be described again (P4).
    std::vector<std::string> busy_instances() const;
    /// Ends planning at `now` (P5-P8): still-busy disks are skipped, the
    /// instances with disks move to `lookup`. `waited`: how long was waited.
    void finish_planning(fleet_time now, std::chrono::milliseconds waited);
    /// The planned names (instances in `lookup`), to look up before creating.
    std::vector<std::string> names_to_look_up() const;
    /// A1-A4. `journal` may be null (no journal).
    /// `now_unix_ms` (wall clock) dates the journal's intents: an intent older
    /// than the window has had its window already.
    void on_first_lookup(const std::vector<snapshot_group>& groups, const journal_contents* journal, fleet_time now,
                         std::int64_t now_unix_ms);

    // ---- creating ----------------------------------------------------------
    /// The next instance in `ready` (first come, first served), taken off the
    /// queue; none while stopping.
    std::optional<std::size_t> take_ready();
    /// The instance goes to `sending`: the create for it is about to be sent
    /// (its intent was journaled).
    void on_send(std::size_t i, fleet_time now);
    /// C1-C8. For C3 the instance goes to `refresh`.
    void on_create_answer(std::size_t i, const create_answer& a, unsigned attempts,
                          const std::vector<std::string>& request_ids, fleet_time now);
    /// C3, after the driver re-described the instance's disks: busy ones are
    /// skipped; `ready` if the set shrank and is not empty, else failed.
    void on_disks_refreshed(std::size_t i, const std::vector<disk>& disks, const create_answer& busy_answer,
                            fleet_time now);
    /// Retry waits that ended by `now` become ready; returns them.
    std::vector<std::size_t> wake_retries(fleet_time now);
    /// The names due for a lookup at `now` (reconciling instances).
    std::vector<std::string> due_lookups(fleet_time now) const;
    /// R1-R6 for the instances named in `names`. `ok` false: the lookup
    /// failed (`why`), and `groups` is ignored. Returns the instances that
    /// became ready (to send again).
    std::vector<std::size_t> on_lookup(const std::vector<std::string>& names, bool ok,
                                       const std::vector<snapshot_group>& groups, const std::string& why,
                                       fleet_time now);
    /// S0 / R7: stop sending (journal failure or cancellation).
    void on_stop(bool interrupted, const std::string& journal_error, fleet_time now);
    bool stopping() const noexcept { return stopping_; }
    /// The earliest time something is due (a lookup or a retry), if any.
    std::optional<fleet_time> next_due() const;
    /// Whether an instance may still need a create (ready, sending,
    /// reconciling, retry_wait, refresh): the creators keep waiting.
    bool creating_active() const;
    /// Time of the last create sent (the sweep waits from it).
    std::optional<fleet_time> last_send() const noexcept { return last_send_; }

    // ---- waiting -----------------------------------------------------------
    /// Group ids to poll until NORMAL.
    std::vector<std::string> ids_to_poll() const;
    /// W: groups listed by id or name: states, NORMAL, and the listing lag seen.
    void on_listed(const std::vector<snapshot_group>& groups, fleet_time now);
    /// The longest time seen between a create's send and its group's first
    /// listing (0 if none seen).
    std::chrono::milliseconds observed_lag() const noexcept { return observed_lag_; }
    /// When the sweep may start: the last send + max(window, observed lag + margin).
    fleet_time sweep_not_before(std::chrono::milliseconds margin) const;

    // ---- sweep -------------------------------------------------------------
    /// Names the sweep lists: every instance that has a plan.
    std::vector<std::string> sweep_names() const;
    /// W1-W6 over one complete listing of sweep_names().
    sweep_decision sweep_decide(const std::vector<snapshot_group>& groups, fleet_time now);
    /// D1-D2.
    void on_delete_answer(std::size_t i, const std::string& group_id, const error_code& ec, const diagnostics& diag,
                          fleet_time now);
    /// Duplicates not deleted yet (instances not failed): the sweep goes on.
    bool duplicates_outstanding() const;
    /// Names of created instances whose group id has not been listed for a
    /// window (since it became known or was last listed): the poller lists
    /// them by name, so that a group another run's sweep deleted (W4) does
    /// not keep it waiting.
    std::vector<std::string> unseen_names(fleet_time now) const;
    /// Duplicates still CREATING when the sweep gave up: the instance fails.
    void sweep_gave_up(const std::string& why);

    // ---- summary -----------------------------------------------------------
    void summarize(fleet_time now);

private:
    double since_start(fleet_time now) const;
    void emit(std::size_t i, fleet_event::kind k, std::string detail, std::string journal_state = {});
    void mark_created(std::size_t i, const snapshot_group* g, const std::string& group_id, bool adopted,
                      fleet_time now);
    void mark_normal(std::size_t i, fleet_time now);
    void mark_group_failed(std::size_t i);
    void fail(std::size_t i, std::string code, std::string message);
    void make_unknown(std::size_t i, std::string message);
    void start_window(std::size_t i, fleet_time now);
    std::size_t replan(std::size_t i, bool final, const std::string& why_final);
    void make_ready(std::size_t i);
    bool sends_left(std::size_t i) const;
    std::vector<const snapshot_group*> exact(const std::vector<snapshot_group>& groups, std::size_t i) const;

    fleet_params p_;
    fleet_time start_;
    fleet_report report_;
    std::vector<instance_core> st_;
    std::unordered_map<std::string, std::size_t> by_instance_, by_name_, by_group_;
    std::unordered_set<std::string> other_shards_;  ///< instance ids of other shards (counted, left alone)
    std::vector<core_effect> effects_;
    std::optional<fleet_time> last_send_;
    std::chrono::milliseconds observed_lag_{0};
    bool stopping_ = false;
    std::map<std::string, bool> pending_deletes_;  ///< group ids handed to the driver
    std::deque<std::size_t> ready_;                ///< FIFO of `ready` instances
};

}  // namespace cbs::detail
