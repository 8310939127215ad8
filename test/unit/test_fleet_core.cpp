// The fleet core, step by step on a hand-driven clock, no I/O: every row of
// the decision table in include/cbs/detail/fleet_core.hpp (named P*, A*, C*,
// R*, S0, W*, D* in the test names).
#include <cbs/detail/fleet_core.hpp>
#include <cbs/journal.hpp>

#include <doctest/doctest.h>

#include <algorithm>

using namespace std::chrono_literals;
using cbs::instance_outcome;
using cbs::detail::create_answer;
using cbs::detail::fleet_core;
using cbs::detail::fleet_phase;
using cbs::detail::fleet_time;

namespace {

const fleet_time t0 = fleet_time{} + 1000s;  // fleet_time{} means "never" inside the core

cbs::disk mk_disk(std::string id, std::string instance, std::string state = "ATTACHED", std::string usage = "DATA_DISK",
                  bool able = true) {
    cbs::disk d;
    d.disk_id = std::move(id);
    d.instance_id = std::move(instance);
    d.disk_state = std::move(state);
    d.disk_usage = std::move(usage);
    d.snapshot_ability = able;
    d.attached = true;
    return d;
}

cbs::snapshot_group grp(std::string id, std::string name, std::string state = "NORMAL",
                        std::string created = "2026-01-01 00:00:00") {
    cbs::snapshot_group g;
    g.snapshot_group_id = std::move(id);
    g.name = std::move(name);
    g.state = std::move(state);
    g.create_time = std::move(created);
    return g;
}

cbs::fleet_params params() {
    cbs::fleet_params p;
    p.run_id = "r";
    p.consistency_window = 16s;  // first gap 1 s
    p.max_resends = 2;
    p.poll_interval = 2s;
    p.instance_deadline = 10s;
    p.busy_disk_wait = 60s;
    return p;
}

const std::string A = "ins-aaaaaaaa", B = "ins-bbbbbbbb", C = "ins-cccccccc";
std::string name_of(const std::string& id) {
    return "fleet-" + id + "-r";
}

/// Instances A, B, C with one attached disk each, planned and looked up
/// (nothing found, no journal): all ready.
fleet_core ready_core(cbs::fleet_params p = params(), std::vector<std::string> ids = {A, B, C}) {
    fleet_core c(p, t0);
    REQUIRE(c.add_instances(ids).empty());
    std::vector<cbs::disk> disks;
    for (const auto& id : ids) disks.push_back(mk_disk("disk-" + id.substr(4, 4) + "0001", id));
    c.plan_disks(disks, false);
    c.finish_planning(t0, 0ms);
    c.on_first_lookup({}, nullptr, t0, 0);
    return c;
}

create_answer answer(create_answer::kind_t k, std::string code = {}, std::string group_id = {}) {
    create_answer a;
    a.kind = k;
    a.code = std::move(code);
    a.message = a.code;
    a.group_id = std::move(group_id);
    return a;
}

/// Takes the next ready instance and sends its create at `t`.
std::size_t send(fleet_core& c, fleet_time t) {
    auto i = c.take_ready();
    REQUIRE(i);
    c.on_send(*i, t);
    return *i;
}

bool has_effect(const std::vector<cbs::detail::core_effect>& fx, const std::string& journal_state) {
    return std::any_of(fx.begin(), fx.end(), [&](const auto& e) { return e.journal_state == journal_state; });
}

}  // namespace

TEST_CASE("fleet_core P1 P2 P3 P7: unsnapshotable disks are skipped with their reason; nothing left: skipped") {
    auto p = params();
    p.data_disks_only = true;
    fleet_core c(p, t0);
    REQUIRE(c.add_instances({A, B}).empty());
    c.plan_disks({mk_disk("disk-a0000001", A, "ATTACHED", "DATA_DISK", false),  // P1
                  mk_disk("disk-a0000002", A, "ATTACHED", "SYSTEM_DISK"),       // P2
                  mk_disk("disk-a0000003", A, "EXPANDING"),                     // P3
                  mk_disk("disk-b0000001", B), mk_disk("disk-zzzzzzzz", C)},    // C is not ours
                 false);
    c.finish_planning(t0, 0ms);
    const auto& a = c.report().instances[0];
    REQUIRE(a.skipped_disks.size() == 3);
    CHECK(a.skipped_disks[0].reason == "SnapshotAbility is false");
    CHECK(a.skipped_disks[1].reason.find("system disk") != std::string::npos);
    CHECK(a.skipped_disks[2].reason == "disk state EXPANDING");
    CHECK(a.outcome == instance_outcome::skipped);  // P7
    CHECK(c.report().instances[1].disk_ids == std::vector<std::string>{"disk-b0000001"});
    CHECK(c.state(1).phase == fleet_phase::lookup);
    CHECK(c.size() == 2);
    CHECK(c.names_to_look_up() == std::vector<std::string>{name_of(B)});
    CHECK(has_effect(c.take_effects(), "skipped"));
}

TEST_CASE("fleet_core P4 P5 P6: busy disks are waited for, then skipped with the reason; none left: failed") {
    fleet_core c(params(), t0);
    REQUIRE(c.add_instances({A, B, C}).empty());
    auto mig = mk_disk("disk-a0000002", A);
    mig.migrating = true;
    mig.migrate_percent = 40;
    auto rb = mk_disk("disk-b0000001", B);
    rb.rollbacking = true;
    c.plan_disks({mk_disk("disk-a0000001", A), mig, rb, mk_disk("disk-c0000001", C, "ATTACHING")}, false);
    CHECK(c.busy_instances() == std::vector<std::string>{A, B, C});  // P4
    // C finished attaching meanwhile: described again, no longer busy.
    c.plan_disks({mk_disk("disk-c0000001", C)}, false);
    CHECK(c.busy_instances() == std::vector<std::string>{A, B});
    c.finish_planning(t0 + 60s, 60s);
    const auto& a = c.report().instances[0];
    CHECK(a.disk_ids == std::vector<std::string>{"disk-a0000001"});  // P5
    REQUIRE(a.skipped_disks.size() == 1);
    CHECK(a.skipped_disks[0].reason.find("migrating (40%)") != std::string::npos);
    CHECK(a.skipped_disks[0].reason.find("busy_disk_wait") != std::string::npos);
    const auto& b = c.report().instances[1];
    CHECK(b.outcome == instance_outcome::failed);  // P6
    CHECK(b.error_name == "ResourceInUse.DiskBusy");
    CHECK(b.skipped_disks[0].reason.find("rolling back") != std::string::npos);
    CHECK(c.report().instances[2].disk_ids.size() == 1);
}

TEST_CASE("fleet_core P8 P9: no disk at all, malformed and duplicate ids; discover_all adds instances") {
    fleet_core c(params(), t0);
    CHECK(c.add_instances({A, "not-an-id"}).empty());
    CHECK(c.report().instances[1].error_name == "InvalidInstanceId.Malformed");  // P9
    CHECK(c.add_instances({A}).find("listed twice") != std::string::npos);
    c.finish_planning(t0, 0ms);
    CHECK(c.report().instances[0].error_name == "InvalidInstanceId.NotFound");  // P8

    fleet_core all(params(), t0);
    all.plan_disks({mk_disk("disk-a0000001", A), mk_disk("disk-b0000001", B), mk_disk("disk-a0000002", A)}, true);
    all.finish_planning(t0, 0ms);
    REQUIRE(all.size() == 2);
    CHECK(all.report().instances[0].disk_ids.size() == 2);
    CHECK(all.report().instances[0].group_name == name_of(A));
}

TEST_CASE("fleet_core A1 A4: exact names are adopted (the oldest), near names are not; the rest is ready") {
    fleet_core c(params(), t0);
    REQUIRE(c.add_instances({A, B, C}).empty());
    c.plan_disks({mk_disk("disk-a0000001", A), mk_disk("disk-b0000001", B), mk_disk("disk-c0000001", C)}, false);
    c.finish_planning(t0, 0ms);
    c.on_first_lookup({grp("csnap-new00001", name_of(A), "NORMAL", "2026-01-01 00:00:09"),
                       grp("csnap-old00001", name_of(A), "NORMAL", "2026-01-01 00:00:01"),
                       grp("csnap-near0001", name_of(B) + "2"),  // a name filter may match more than the name
                       grp("csnap-cccc0001", name_of(C), "CREATING")},
                      nullptr, t0, 0);
    const auto& a = c.report().instances[0];
    CHECK(a.group_id == "csnap-old00001");
    CHECK(a.adopted);
    CHECK(a.outcome == instance_outcome::normal);
    CHECK(c.report().instances[1].group_id.empty());
    CHECK(c.state(1).phase == fleet_phase::ready);  // A4
    CHECK(c.report().instances[2].outcome == instance_outcome::created);
    CHECK(c.ids_to_poll() == std::vector<std::string>{"csnap-cccc0001"});
    CHECK(c.take_ready() == 1u);
    CHECK_FALSE(c.take_ready());
}

TEST_CASE("fleet_core A2 A3: the journal's group id is trusted; an intent without result is reconciled first") {
    fleet_core c(params(), t0);
    REQUIRE(c.add_instances({A, B, C}).empty());
    c.plan_disks({mk_disk("disk-a0000001", A), mk_disk("disk-b0000001", B), mk_disk("disk-c0000001", C)}, false);
    c.finish_planning(t0, 0ms);
    cbs::journal_contents j;
    j.instances[A].group_id = "csnap-aaaa0001";
    j.instances[A].state = "created";
    j.instances[B].intents = 1;
    j.instances[B].last_intent_unix_ms = 100'000 - 4'000;  // 4 s ago
    j.instances[C].intents = 3;                            // 1 + max_resends, long ago
    j.instances[C].last_intent_unix_ms = 1;
    c.on_first_lookup({}, &j, t0, 100'000);
    CHECK(c.report().instances[0].group_id == "csnap-aaaa0001");  // A2
    CHECK(c.report().instances[0].outcome == instance_outcome::created);
    CHECK(c.state(1).phase == fleet_phase::reconciling);  // A3: 12 s of window left
    CHECK(c.state(1).window_end == t0 + 12s);
    CHECK_FALSE(c.take_ready());
    CHECK(c.report().instances[2].outcome == instance_outcome::unknown);  // its windows are over, no send left
    CHECK(c.report().instances[2].sends == 3);
}

TEST_CASE("fleet_core C1: an answered create is created and journaled") {
    auto c = ready_core();
    auto i = send(c, t0);
    c.on_create_answer(i, answer(create_answer::ok, {}, "csnap-aaaa0001"), 1, {"rid-1"}, t0 + 100ms);
    CHECK(c.report().instances[i].outcome == instance_outcome::created);
    CHECK(c.report().instances[i].request_ids == std::vector<std::string>{"rid-1"});
    CHECK(has_effect(c.take_effects(), "created"));
    c.on_listed({grp("csnap-aaaa0001", name_of(A))}, t0 + 3s);  // W: NORMAL
    CHECK(c.report().instances[i].outcome == instance_outcome::normal);
    CHECK(c.observed_lag() == 3s);
}

TEST_CASE("fleet_core C2 R2 R1: an unknown outcome is looked up with growing gaps until the name is listed") {
    auto c = ready_core();
    auto i = send(c, t0);
    c.on_create_answer(i, answer(create_answer::unknown, "OutcomeUnknown"), 1, {}, t0);
    CHECK(c.state(i).phase == fleet_phase::reconciling);  // C2
    CHECK(c.due_lookups(t0 + 500ms).empty());
    CHECK(c.due_lookups(t0 + 1s) == std::vector<std::string>{name_of(A)});
    CHECK(c.next_due() == t0 + 1s);
    c.on_lookup({name_of(A)}, true, {}, {}, t0 + 1s);  // R2
    CHECK(c.state(i).next_look == t0 + 3s);
    c.on_lookup({name_of(A)}, true, {}, {}, t0 + 3s);
    CHECK(c.state(i).next_look == t0 + 7s);
    c.on_lookup({name_of(A)}, true, {grp("csnap-aaaa0001", name_of(A), "CREATING")}, {}, t0 + 7s);  // R1
    CHECK(c.report().instances[i].outcome == instance_outcome::created);
    CHECK(c.report().instances[i].adopted);
    CHECK(c.report().instances[i].sends == 1);
}

TEST_CASE("fleet_core R3 R4: not listed within the window: sent again, at most max_resends times, then unknown") {
    auto c = ready_core(params(), {A});
    auto i = send(c, t0);
    auto t = t0;
    for (unsigned round = 0; round <= 2; ++round) {
        c.on_create_answer(i, answer(create_answer::unknown, "OutcomeUnknown"), 1, {}, t);
        const auto end = c.state(i).window_end;
        CHECK(end == t + 16s);
        std::vector<std::size_t> ready;
        for (int k = 0; k < 20 && c.state(i).phase == fleet_phase::reconciling; ++k) {
            t = *c.next_due();
            ready = c.on_lookup(c.due_lookups(t), true, {}, {}, t);
        }
        CHECK(t == end);  // the last look is at the window's end, never past it
        if (round < 2) {  // R3
            CHECK(ready == std::vector<std::size_t>{i});
            CHECK(c.take_ready() == i);
            c.on_send(i, t);
        }
    }
    const auto& r = c.report().instances[i];
    CHECK(r.outcome == instance_outcome::unknown);  // R4
    CHECK(r.sends == 3);
    CHECK(r.error_message.find("sent 3 times") != std::string::npos);
}

TEST_CASE("fleet_core R5 R6: a failed lookup waits for the next gap; after the window it is unknown, never resent") {
    auto c = ready_core(params(), {A});
    auto i = send(c, t0);
    c.on_create_answer(i, answer(create_answer::unknown, "OutcomeUnknown"), 1, {}, t0);
    c.on_lookup({name_of(A)}, false, {}, "InternalError", t0 + 1s);  // R5
    CHECK(c.state(i).phase == fleet_phase::reconciling);
    c.on_lookup({name_of(A)}, false, {}, "InternalError", t0 + 16s);  // R6
    CHECK(c.report().instances[i].outcome == instance_outcome::unknown);
    CHECK(c.report().instances[i].error_message.find("InternalError") != std::string::npos);
    CHECK_FALSE(c.take_ready());
}

TEST_CASE("fleet_core R7 S0: a journal failure stops sends (reconciliation goes on); a cancel stops everything") {
    auto c = ready_core();
    auto i = send(c, t0);
    c.on_create_answer(i, answer(create_answer::unknown, "OutcomeUnknown"), 1, {}, t0);
    c.on_stop(false, "EIO on fdatasync", t0 + 1s);
    CHECK(c.report().journal_error == "EIO on fdatasync");
    CHECK(c.report().instances[1].outcome == instance_outcome::pending);  // S0
    CHECK(c.report().instances[1].error_message.find("journal failed") != std::string::npos);
    CHECK_FALSE(c.take_ready());
    CHECK(c.state(i).phase == fleet_phase::reconciling);
    CHECK(c.creating_active());
    c.on_lookup({name_of(A)}, true, {}, {}, t0 + 16s);  // R7
    CHECK(c.report().instances[i].outcome == instance_outcome::unknown);
    CHECK_FALSE(c.creating_active());
    c.summarize(t0 + 20s);
    CHECK_FALSE(c.report().all_ok);
    CHECK(c.report().summary.pending == 2);

    auto d = ready_core();
    auto j = send(d, t0);
    d.on_create_answer(j, answer(create_answer::unknown, "OutcomeUnknown"), 1, {}, t0);
    d.on_stop(true, {}, t0 + 1s);
    CHECK(d.report().interrupted);
    CHECK(d.report().instances[j].outcome == instance_outcome::unknown);
}

TEST_CASE("fleet_core C3: busy migrating disks are left out and the create sent again with the rest") {
    fleet_core c(params(), t0);
    REQUIRE(c.add_instances({A}).empty());
    c.plan_disks({mk_disk("disk-a0000001", A), mk_disk("disk-a0000002", A)}, false);
    c.finish_planning(t0, 0ms);
    c.on_first_lookup({}, nullptr, t0, 0);
    auto i = send(c, t0);
    auto busy = answer(create_answer::busy, "ResourceInUse.DiskMigrating");
    c.on_create_answer(i, busy, 5, {}, t0 + 60s);
    CHECK(c.state(i).phase == fleet_phase::refresh);
    auto mig = mk_disk("disk-a0000002", A);
    mig.migrating = true;
    c.on_disks_refreshed(i, {mk_disk("disk-a0000001", A), mig}, busy, t0 + 61s);
    CHECK(c.state(i).phase == fleet_phase::ready);
    CHECK(c.report().instances[i].disk_ids == std::vector<std::string>{"disk-a0000001"});
    CHECK(c.report().instances[i].skipped_disks[0].reason.find("ResourceInUse.DiskMigrating") != std::string::npos);
    // Sent again, still refused, nothing flagged any more: failed, not a loop.
    send(c, t0 + 61s);
    c.on_create_answer(i, busy, 5, {}, t0 + 121s);
    c.on_disks_refreshed(i, {mk_disk("disk-a0000001", A)}, busy, t0 + 122s);
    CHECK(c.report().instances[i].outcome == instance_outcome::failed);
    CHECK(c.report().instances[i].error_name == "ResourceInUse.DiskMigrating");
    // Every disk busy: failed.
    fleet_core d(params(), t0);
    REQUIRE(d.add_instances({A}).empty());
    d.plan_disks({mk_disk("disk-a0000001", A)}, false);
    d.finish_planning(t0, 0ms);
    d.on_first_lookup({}, nullptr, t0, 0);
    send(d, t0);
    d.on_create_answer(0, busy, 1, {}, t0 + 60s);
    auto all = mk_disk("disk-a0000001", A);
    all.rollbacking = true;
    d.on_disks_refreshed(0, {all}, busy, t0 + 61s);
    CHECK(d.report().instances[0].outcome == instance_outcome::failed);
    CHECK(d.report().instances[0].error_message.find("no disk") != std::string::npos);
}

TEST_CASE("fleet_core C4 C5 C6: busy disks: after an unknown send, reconcile; else retry until instance_deadline") {
    auto c = ready_core(params(), {A});
    auto i = send(c, t0);
    auto busy = answer(create_answer::busy, "InvalidDisk.SnapshotCreating");
    c.on_create_answer(i, busy, 3, {}, t0 + 1s);
    CHECK(c.state(i).phase == fleet_phase::retry_wait);  // C5
    CHECK(c.wake_retries(t0 + 2s).empty());
    CHECK(c.wake_retries(t0 + 3s) == std::vector<std::size_t>{i});
    CHECK(c.take_ready() == i);
    c.on_send(i, t0 + 3s);
    c.on_create_answer(i, busy, 3, {}, t0 + 11s);
    CHECK(c.report().instances[i].outcome == instance_outcome::failed);  // C6
    CHECK(c.report().instances[i].error_message.find("instance_deadline") != std::string::npos);

    auto e = ready_core(params(), {B});
    auto j = send(e, t0);
    e.on_create_answer(j, answer(create_answer::unknown, "OutcomeUnknown"), 1, {}, t0);
    e.on_lookup({name_of(B)}, true, {}, {}, t0 + 16s);
    REQUIRE(e.take_ready() == j);
    e.on_send(j, t0 + 16s);
    e.on_create_answer(j, busy, 1, {}, t0 + 17s);
    CHECK(e.state(j).phase == fleet_phase::reconciling);  // C4: our first send may be what keeps it busy
}

TEST_CASE("fleet_core C7 C8: a clear failure fails; a cancel before sending leaves it pending") {
    auto c = ready_core();
    auto i = send(c, t0);
    c.on_create_answer(i, answer(create_answer::failed, "InvalidParameterValue"), 1, {}, t0);
    CHECK(c.report().instances[i].outcome == instance_outcome::failed);  // C7
    CHECK(c.report().instances[i].error_name == "InvalidParameterValue");
    auto j = send(c, t0);
    c.on_create_answer(j, answer(create_answer::cancelled, "cancelled"), 0, {}, t0);
    CHECK(c.report().instances[j].outcome == instance_outcome::pending);  // C8
    CHECK(c.report().instances[j].sends == 0);
}

TEST_CASE("fleet_core classify_create maps results to answers") {
    cbs::diagnostics d;
    CHECK(cbs::detail::classify_create({}, d, "csnap-x").kind == create_answer::ok);
    CHECK(cbs::detail::classify_create(cbs::client_errc::outcome_unknown, d, {}).kind == create_answer::unknown);
    CHECK(cbs::detail::classify_create(cbs::client_errc::cancelled, d, {}).kind == create_answer::cancelled);
    d.server_code = "ResourceInUse.DiskMigrating";
    auto b = cbs::detail::classify_create(cbs::api_errc::resource_in_use_disk_migrating, d, {});
    CHECK(b.kind == create_answer::busy);
    CHECK(b.code == "ResourceInUse.DiskMigrating");
    d.server_code = "InvalidParameter";
    CHECK(cbs::detail::classify_create(cbs::api_errc::invalid_parameter, d, {}).kind == create_answer::failed);
}

TEST_CASE("fleet_core W1 W3 W4 D3: the sweep adopts what appeared; an unlisted recorded id is the duplicate") {
    auto c = ready_core();
    auto a = send(c, t0);
    c.on_create_answer(a, answer(create_answer::ok, {}, "csnap-aaaa0001"), 1, {}, t0);
    auto b = send(c, t0);
    c.on_create_answer(b, answer(create_answer::unknown, "OutcomeUnknown"), 1, {}, t0);
    c.on_stop(true, {}, t0 + 1s);  // b unknown, C pending
    auto cc = c.find(C);
    auto d = c.sweep_decide({grp("csnap-bbbb0001", name_of(B), "CREATING")}, t0 + 20s);
    CHECK(d.deletes.empty());
    CHECK(c.report().instances[a].outcome == instance_outcome::created);  // W1: not listed, still ours
    CHECK(c.report().instances[b].outcome == instance_outcome::created);  // W3
    CHECK(c.report().instances[b].error_message.find("found by the final sweep") != std::string::npos);
    CHECK(c.report().instances[cc].outcome == instance_outcome::pending);  // W2

    auto e = ready_core();
    auto x = send(e, t0);
    e.on_create_answer(x, answer(create_answer::ok, {}, "csnap-aaaa0001"), 1, {}, t0);
    CHECK(e.unseen_names(t0 + 15s).empty());
    CHECK(e.unseen_names(t0 + 16s) == std::vector<std::string>{name_of(A)});
    auto w4 = e.sweep_decide({grp("csnap-aaaa0002", name_of(A))}, t0 + 20s);  // W4
    CHECK(e.report().instances[x].group_id == "csnap-aaaa0002");
    CHECK(e.report().instances[x].duplicate_group_ids == std::vector<std::string>{"csnap-aaaa0001"});
    REQUIRE(w4.deletes.size() == 1);
    CHECK(w4.deletes[0].group_id == "csnap-aaaa0001");
    CHECK(e.duplicates_outstanding());
    cbs::diagnostics creating;
    creating.server_code = "UnsupportedOperation.StateError";  // D3: not deletable yet
    e.on_delete_answer(x, "csnap-aaaa0001", cbs::api_errc::unsupported_operation_state_error, creating, t0 + 21s);
    CHECK(e.report().instances[x].outcome == instance_outcome::normal);
    auto again = e.sweep_decide({grp("csnap-aaaa0002", name_of(A))}, t0 + 23s);
    REQUIRE(again.deletes.size() == 1);  // handed out again
    cbs::diagnostics throttled;
    throttled.server_code = "RequestLimitExceeded";  // D3 too: retried, not a failure
    e.on_delete_answer(x, "csnap-aaaa0001", cbs::api_errc::request_limit_exceeded, throttled, t0 + 23s);
    CHECK(e.report().instances[x].outcome == instance_outcome::normal);
    REQUIRE(e.sweep_decide({grp("csnap-aaaa0002", name_of(A))}, t0 + 25s).deletes.size() == 1);
    e.on_delete_answer(x, "csnap-aaaa0001", {}, {}, t0 + 24s);
    CHECK_FALSE(e.duplicates_outstanding());
}

TEST_CASE("fleet_core W6 D1 D2: duplicates: keep the oldest, delete the rest once not CREATING, journal it") {
    auto c = ready_core();
    auto a = send(c, t0);
    c.on_create_answer(a, answer(create_answer::ok, {}, "csnap-new00001"), 1, {}, t0 + 20s);
    auto listing = std::vector<cbs::snapshot_group>{
        grp("csnap-new00001", name_of(A), "NORMAL", "2026-01-01 00:00:20"),
        grp("csnap-old00001", name_of(A), "NORMAL", "2026-01-01 00:00:01"),
        grp("csnap-mid00001", name_of(A), "CREATING", "2026-01-01 00:00:10"), grp("csnap-near0001", name_of(A) + "x")};
    c.take_effects();
    auto d = c.sweep_decide(listing, t0 + 40s);
    const auto& r = c.report().instances[a];
    CHECK(r.group_id == "csnap-old00001");  // the oldest is kept, though ours was the newer
    CHECK(r.duplicate_group_ids.size() == 2);
    REQUIRE(d.deletes.size() == 1);
    CHECK(d.deletes[0].group_id == "csnap-new00001");
    CHECK(d.waiting == 1);                                      // csnap-mid00001 is CREATING: not deletable yet
    CHECK(has_effect(c.take_effects(), "created"));             // the kept id is journaled
    c.on_delete_answer(a, "csnap-new00001", {}, {}, t0 + 41s);  // D1
    CHECK(has_effect(c.take_effects(), "deleted"));
    // Listed again: the deleted one is not handed out twice; the other is NORMAL now.
    listing[2].state = "NORMAL";
    auto d2 = c.sweep_decide(listing, t0 + 45s);
    REQUIRE(d2.deletes.size() == 1);
    CHECK(d2.deletes[0].group_id == "csnap-mid00001");
    cbs::diagnostics nf;
    nf.server_code = "InvalidSnapshotId.NotFound";  // someone else deleted it: fine
    c.on_delete_answer(a, "csnap-mid00001", cbs::api_errc::invalid_snapshot_id_not_found, nf, t0 + 46s);
    c.summarize(t0 + 50s);
    CHECK(r.outcome == instance_outcome::normal);
    CHECK(c.report().summary.duplicates_found == 2);
    CHECK(c.report().summary.duplicates_deleted == 2);

    auto e = ready_core();
    auto x = send(e, t0);
    e.on_create_answer(x, answer(create_answer::ok, {}, "csnap-aaaa0002"), 1, {}, t0);
    auto d3 = e.sweep_decide({grp("csnap-aaaa0001", name_of(A), "NORMAL", "2026-01-01 00:00:01"),
                              grp("csnap-aaaa0002", name_of(A), "NORMAL", "2026-01-01 00:00:02")},
                             t0 + 20s);
    REQUIRE(d3.deletes.size() == 1);
    cbs::diagnostics bad;
    bad.server_code = "UnsupportedOperation.SnapshotHasBindedImage";
    e.on_delete_answer(x, "csnap-aaaa0002", cbs::api_errc::unrecognized, bad, t0 + 21s);  // D2
    CHECK(e.report().instances[x].outcome == instance_outcome::failed);
    CHECK(e.report().instances[x].error_message.find("two groups remain") != std::string::npos);
}

TEST_CASE("fleet_core W5: keep_duplicates reports, deletes nothing, fails the instance; summary counts it") {
    auto p = params();
    p.keep_duplicates = true;
    auto c = ready_core(p);
    auto d = c.sweep_decide({grp("csnap-aaaa0001", name_of(A), "NORMAL", "2026-01-01 00:00:01"),
                             grp("csnap-aaaa0002", name_of(A), "NORMAL", "2026-01-01 00:00:02")},
                            t0 + 20s);
    CHECK(d.deletes.empty());
    const auto& r = c.report().instances[0];
    CHECK(r.outcome == instance_outcome::failed);
    CHECK(r.error_name == "DuplicateGroups");
    CHECK(r.error_message.find("csnap-aaaa0002") != std::string::npos);
    c.summarize(t0 + 21s);
    CHECK(c.report().summary.duplicates_found == 1);
    CHECK(c.report().summary.duplicates_deleted == 0);
    CHECK_FALSE(c.report().all_ok);
}

TEST_CASE("fleet_core sweep timing and summary: window or lag after the last send; all_ok only when all is well") {
    auto c = ready_core();
    CHECK(c.sweep_not_before(2s) == t0);  // nothing sent: no wait
    for (int k = 0; k < 3; ++k) {
        auto i = send(c, t0 + 1s);
        c.on_create_answer(i, answer(create_answer::ok, {}, "csnap-0000000" + std::to_string(k)), 1, {}, t0 + 1s);
    }
    CHECK(c.sweep_not_before(2s) == t0 + 17s);
    c.on_listed({grp("csnap-00000000", name_of(A))}, t0 + 41s);  // a 40 s lag seen
    CHECK(c.sweep_not_before(2s) == t0 + 1s + 42s);
    c.on_listed({grp("csnap-00000001", name_of(B)), grp("csnap-00000002", name_of(C), "CREATING")}, t0 + 42s);
    c.summarize(t0 + 43s);
    CHECK_FALSE(c.report().all_ok);  // C not NORMAL yet
    CHECK(c.report().summary.created == 1);
    c.on_listed({grp("csnap-00000002", name_of(C))}, t0 + 44s);
    c.sweep_gave_up("unused");
    c.summarize(t0 + 45s);
    CHECK(c.report().all_ok);
    CHECK(c.report().summary.normal == 3);
    CHECK(c.report().summary.creates_sent == 3);
    CHECK_FALSE(c.creating_active());
}

TEST_CASE("fleet_core F1: a group that ends FAILED fails its instance at once, with the reason; no resend") {
    auto c = ready_core();
    auto i = send(c, t0);
    c.on_create_answer(i, answer(create_answer::ok, {}, "csnap-aaaa0001"), 1, {"rid-1"}, t0 + 100ms);
    c.on_listed({grp("csnap-aaaa0001", name_of(A), "FAILED")}, t0 + 3s);
    const auto& r = c.report().instances[i];
    CHECK(r.outcome == instance_outcome::failed);
    CHECK(r.error_name == "SnapshotGroupFailed");
    CHECK(r.error_message.find("csnap-aaaa0001") != std::string::npos);
    CHECK(r.group_state == "FAILED");
    CHECK(c.ids_to_poll().empty());  // nothing left to wait for
}
