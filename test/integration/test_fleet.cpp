// The fleet engine against the embedded emulator over real TLS: every
// instance covered exactly once, with faults, listing lag, lost answers,
// killed, resumed and concurrent runs and a failing journal. Every promise is
// checked on the emulator's state and request log, not on the report alone.
#include "support/request_log.hpp"

#include <cbs/detail/fleet_driver.hpp>
#include <cbs/emulator/emulator.hpp>
#include <cbs/fleet.hpp>
#include <cbs/journal.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <csignal>
#include <filesystem>
#include <map>
#include <thread>
#include <type_traits>

namespace asio = boost::asio;
namespace emu = cbs::emu;
using namespace std::chrono_literals;

namespace {

/// The emulator on its own thread, so the client side can be "killed".
struct emulator_thread {
    asio::io_context io;
    std::unique_ptr<emu::emulator> server;
    std::thread thread;
    explicit emulator_thread(emu::emulator_params p) {
        server = std::make_unique<emu::emulator>(io.get_executor(), std::move(p));
        server->start();
        thread = std::thread([this] { io.run(); });
    }
    ~emulator_thread() {
        asio::post(io, [this] { server->stop(); });
        thread.join();
    }
    cbs::client_params client_params() const {
        cbs::client_params p;
        auto a = server->accounts().front();
        p.endpoint = server->endpoint();
        p.pool.ca_file = server->ca_file();
        p.creds = {a.secret_id, a.secret_key, a.token, "emulator"};
        p.request_timeout = 3s;
        // Quick backoffs keep the tests short; classes and limits are the defaults.
        p.retry.transient_base = p.retry.network_base = p.retry.throttle_base = 10ms;
        p.retry.busy_base = 50ms;
        p.retry.transient_cap = p.retry.network_cap = p.retry.throttle_cap = p.retry.busy_cap = 200ms;
        return p;
    }
    std::vector<std::string> instances() {
        std::vector<std::string> ids;
        server->inspect([&](emu::fleet_state& s) { ids = s.instance_ids(); });
        return ids;
    }
    /// Groups of this run per instance (listed or not: the true state), and
    /// the disks each group covers.
    std::map<std::string, std::vector<emu::group_view>> groups_by_instance(std::string_view run_id) {
        std::map<std::string, std::vector<emu::group_view>> out;
        server->inspect([&](emu::fleet_state& s) {
            for (auto& g : s.groups())
                if (g.name.ends_with(std::string("-") + std::string(run_id))) out[g.instance_id].push_back(g);
        });
        return out;
    }
    /// Snapshotable disks of an instance, as the emulator knows them.
    std::vector<std::string> snapshotable(const std::string& instance) {
        std::vector<std::string> ids;
        server->inspect([&](emu::fleet_state& s) {
            for (auto& d : s.disks_of(instance))
                if (d.snapshot_ability && d.disk_state == "ATTACHED") ids.push_back(d.disk_id);
        });
        std::sort(ids.begin(), ids.end());
        return ids;
    }
};

/// The emulator of a fleet test, with the conditions the service shows on by
/// default, since every test here claims "none twice": a 2 s listing lag, 10%
/// of creates carried out with their answer lost, 10% answered 0.75-1.5 s
/// late, and 30% of all answers 20-200 ms late. Tests add to these rules
/// (`p.faults.rules[action].x = ...`) rather than replace them.
emu::emulator_params fleet_emulator(std::size_t instances, std::uint64_t seed = 7) {
    emu::emulator_params p;
    p.fleet.instances = instances;
    p.fleet.seed = seed;
    p.fleet.creating_time = 300ms;
    p.fleet.list_lag = 2s;
    auto& create = p.faults.rules["CreateSnapshotGroup"];
    create.reset_after = 0.10;
    create.slow = 0.10;
    create.latency = 0.30;
    p.faults.rules["*"].latency = 0.30;
    p.faults.slow_delay = 1500ms;  // inside the tests' 3 s request timeout
    p.faults.latency = 20ms;
    p.faults.latency_max = 200ms;
    p.faults.seed = seed;
    return p;
}

/// Fleet parameters for a test: quick polls and a consistency window longer
/// than fleet_emulator's listing lag.
cbs::fleet_params quick_fleet(std::vector<std::string> ids, std::string run_id) {
    cbs::fleet_params fp;
    fp.instance_ids = std::move(ids);
    fp.run_id = std::move(run_id);
    fp.poll_interval = 100ms;
    fp.consistency_window = 3s;
    fp.busy_disk_wait = 5s;
    return fp;
}

cbs::fleet_report run_fleet(cbs::client_params cp, cbs::fleet_params fp, std::chrono::seconds limit = 120s) {
    asio::io_context io;
    cbs::client c(io.get_executor(), std::move(cp));
    std::optional<cbs::fleet_report> report;
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { report = co_await cbs::async_snapshot_fleet(c, fp); },
        [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    io.run_for(limit);
    REQUIRE(report);  // no hang: the run ended by itself
    return *report;
}

std::size_t count_log(emulator_thread& emu, std::string_view action, std::string_view outcome = {}) {
    std::size_t n = 0;
    for (const auto& rec : emu.server->request_log())
        if (rec.action == action && (outcome.empty() || rec.outcome == outcome)) ++n;
    return n;
}

/// Every instance has exactly one group of the run, over all its snapshotable disks.
void check_exactly_once(emulator_thread& emu, const std::vector<std::string>& instances, std::string_view run_id) {
    auto groups = emu.groups_by_instance(run_id);
    for (const auto& id : instances) {
        CAPTURE(id);
        auto want = emu.snapshotable(id);
        if (want.empty()) {
            CHECK(groups.count(id) == 0);
            continue;
        }
        REQUIRE(groups.count(id) == 1);
        REQUIRE(groups[id].size() == 1);
        auto got = groups[id][0].disk_ids;
        std::sort(got.begin(), got.end());
        CHECK(got == want);
    }
}

std::string temp_path(std::string_view name) {
    auto dir = std::filesystem::temp_directory_path() / ("cbs-fleet-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto path = dir / name;
    std::filesystem::remove(path);
    return path.string();
}

}  // namespace

TEST_CASE("fleet: every instance gets exactly one group over its snapshotable disks; no throttling") {
    emulator_thread emu(fleet_emulator(40));
    auto instances = emu.instances();
    auto fp = quick_fleet(instances, "t1");
    fp.tags = {{"team", "db"}};  // snapshot-fleet --group-tag team=db
    auto report = run_fleet(emu.client_params(), fp);
    CHECK(report.all_ok);
    CHECK(report.summary.instances == 40);
    // Every group carries the run's tag and the one asked for (the emulator's state).
    emu.server->inspect([](emu::fleet_state& s) {
        for (const auto& g : s.groups()) {
            CAPTURE(g.name);
            std::map<std::string, std::string> tags;
            for (const auto& t : g.tags) tags[t.key] = t.value;
            CHECK(tags == std::map<std::string, std::string>{{"cbs-fleet-run-id", "t1"}, {"team", "db"}});
        }
    });
    CHECK(report.summary.normal + report.summary.skipped == 40);
    check_exactly_once(emu, instances, "t1");
    for (const auto& rec : emu.server->request_log()) {
        CAPTURE(rec.action);
        CHECK_FALSE(rec.throttled);  // any RequestLimitExceeded sub-code
    }
    // Report records name the group and its RequestIds (none for a group
    // found by name after its create's answer was lost: no answer, no id).
    std::size_t adopted = 0;
    for (const auto& r : report.instances) {
        if (r.outcome != cbs::instance_outcome::normal) continue;
        CAPTURE(r.instance_id);
        CHECK(r.group_name == "fleet-" + r.instance_id + "-t1");
        CHECK(r.group_id.starts_with("csnap-"));
        CHECK(r.attempts >= 1);
        if (r.adopted)
            ++adopted;
        else
            CHECK_FALSE(r.request_ids.empty());
    }
    CHECK(adopted > 0);  // the lost answers were there, and found by name
}

TEST_CASE("fleet: with transient faults, gateway errors and creates committed then dropped: none missing, none twice") {
    // Also with client_params::thread_safe off: the fleet then drives the
    // client from its own strand on this single-threaded io_context.
    for (const bool thread_safe : {true, false}) {
        CAPTURE(thread_safe);
        auto p = fleet_emulator(60, 11);
        auto& create = p.faults.rules["CreateSnapshotGroup"];
        create.transient = 0.10;
        create.gateway_502 = 0.05;
        create.reset_after = 0.20;
        for (const char* action : {"DescribeSnapshotGroups", "DescribeDisks"}) {
            p.faults.rules[action].transient = 0.10;
            p.faults.rules[action].latency = 0.30;
        }
        p.faults.seed = 5;
        emulator_thread emu(p);
        auto instances = emu.instances();
        auto fp = quick_fleet(instances, "t2");
        auto cp = emu.client_params();
        cp.thread_safe = thread_safe;
        auto report = run_fleet(cp, fp);
        CHECK(report.summary.failed == 0);
        CHECK(report.summary.unknown == 0);
        for (const auto& r : report.instances)
            if (r.outcome != cbs::instance_outcome::normal && r.outcome != cbs::instance_outcome::skipped)
                FAIL_CHECK(r.instance_id << ": " << to_string(r.outcome) << ": " << r.error_message);
        CHECK(report.summary.adopted > 0);  // some creates were committed and their answer dropped
        check_exactly_once(emu, instances, "t2");
    }
}

TEST_CASE("fleet: a run killed mid-way and resumed with its journal: none missing, none twice") {
    auto p = fleet_emulator(60, 13);
    // Every create answers 200-400 ms late: some are in flight at the kill.
    p.faults.rules["CreateSnapshotGroup"].latency = 1.0;
    p.faults.latency = 200ms;
    p.faults.latency_max = 400ms;
    emulator_thread emu(p);
    auto instances = emu.instances();
    const auto journal = temp_path("kill.journal");
    auto fp = quick_fleet(instances, "t3");
    fp.journal_path = journal;
    {
        // The kill: a child process runs the fleet and gets SIGKILL while
        // creates are in flight (some committed by the service, not journaled).
        auto cp = emu.client_params();
        pid_t child = ::fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            asio::io_context io;
            cbs::client c(io.get_executor(), cp);
            asio::co_spawn(io, cbs::async_snapshot_fleet(c, fp), [](std::exception_ptr, cbs::fleet_report) {});
            io.run();
            ::_exit(0);
        }
        std::this_thread::sleep_for(1500ms);
        ::kill(child, SIGKILL);
        int status = 0;
        ::waitpid(child, &status, 0);
        CHECK(WIFSIGNALED(status));
    }
    auto before = emu.groups_by_instance("t3");
    CHECK(before.size() > 0);
    CHECK(before.size() < instances.size());
    auto report = run_fleet(emu.client_params(), fp);
    CHECK(report.all_ok);
    CHECK(report.summary.adopted >= before.size());
    check_exactly_once(emu, instances, "t3");
}

TEST_CASE("fleet: bad instances are reported one by one; the others proceed") {
    emulator_thread emu(fleet_emulator(5));
    auto instances = emu.instances();
    auto fp = quick_fleet({instances[0], "ins-zzzzzzzz", "not-an-id", instances[1]}, "t4");
    auto report = run_fleet(emu.client_params(), fp);
    CHECK_FALSE(report.all_ok);
    REQUIRE(report.instances.size() == 4);
    CHECK(report.instances[1].outcome == cbs::instance_outcome::failed);
    CHECK(report.instances[1].error_name == "InvalidInstanceId.NotFound");
    CHECK(report.instances[2].outcome == cbs::instance_outcome::failed);
    CHECK(report.instances[2].error_name == "InvalidInstanceId.Malformed");
    CHECK(report.summary.normal + report.summary.skipped == 2);
    auto groups = emu.groups_by_instance("t4");
    CHECK(groups.size() <= 2);

    fp.instance_ids = {instances[0], instances[0]};
    fp.run_id = "t5";
    CHECK_THROWS_WITH_AS(run_fleet(emu.client_params(), fp), doctest::Contains("listed twice"), cbs::error);
}

TEST_CASE("fleet: a journal of another run or prefix is refused before anything is sent") {
    emulator_thread emu(fleet_emulator(3));
    const auto journal = temp_path("other.journal");
    auto fp = quick_fleet(emu.instances(), "a");
    fp.journal_path = journal;
    CHECK(run_fleet(emu.client_params(), fp).all_ok);
    emu.server->clear_request_log();
    fp.name_prefix = "nightly";
    CHECK_THROWS_WITH_AS(run_fleet(emu.client_params(), fp), doctest::Contains("name-prefix"), cbs::error);
    fp.name_prefix = "fleet";
    fp.run_id = "b";
    CHECK_THROWS_AS(run_fleet(emu.client_params(), fp), cbs::error);
    CHECK(emu.server->request_log().empty());
}

TEST_CASE("fleet: a cancelled run (Ctrl-C) reports what happened, and a re-run completes it exactly once") {
    auto p = fleet_emulator(60, 17);
    // Creates answer 300-600 ms late: several are in flight at the cancel.
    p.faults.rules["CreateSnapshotGroup"].latency = 1.0;
    p.faults.latency = 300ms;
    p.faults.latency_max = 600ms;
    emulator_thread emu(p);
    auto instances = emu.instances();
    const auto journal = temp_path("cancel.journal");
    auto fp = quick_fleet(instances, "t6");
    fp.journal_path = journal;
    std::optional<cbs::fleet_report> first;
    {
        asio::io_context io;
        cbs::client c(io.get_executor(), emu.client_params());
        asio::cancellation_signal cancel;
        asio::co_spawn(io, cbs::async_snapshot_fleet(c, fp),
                       asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e, cbs::fleet_report r) {
                           if (e) std::rethrow_exception(e);
                           first = std::move(r);
                       }));
        asio::steady_timer t(io, 1500ms);
        t.async_wait([&](auto) { cancel.emit(asio::cancellation_type::terminal); });
        io.run_for(30s);
        CHECK(io.stopped());  // the run ended by itself after the cancel
    }
    REQUIRE(first);
    CHECK_FALSE(first->all_ok);
    CHECK(first->interrupted);
    CHECK(first->summary.pending > 0);
    CHECK(first->summary.normal + first->summary.created > 0);
    // Nothing is left in an unrecorded state: every instance is pending,
    // created/normal (journaled), unknown (journaled) or skipped.
    cbs::journal_contents j;
    cbs::diagnostics diag;
    REQUIRE_FALSE(cbs::read_journal(journal, j, diag));
    for (const auto& r : first->instances)
        if (r.outcome == cbs::instance_outcome::created || r.outcome == cbs::instance_outcome::normal ||
            r.outcome == cbs::instance_outcome::unknown)
            CHECK(j.instances.count(r.instance_id) == 1);
    auto report = run_fleet(emu.client_params(), fp);
    CHECK(report.all_ok);
    check_exactly_once(emu, instances, "t6");
}

// ---- listing lag, lost and slow answers ------------------------------------

TEST_CASE("fleet: listing lag 8 s, 20% of create answers lost after the create, slow answers: exactly one each") {
    auto p = fleet_emulator(30, 21);
    p.fleet.list_lag = 8s;
    auto& create = p.faults.rules["CreateSnapshotGroup"];
    create.reset_after = 0.20;  // committed, then the connection is reset: the answer is lost
    create.slow = 0.15;         // committed, answered after 1-2 s (inside the request timeout)
    p.faults.slow_delay = 2s;
    p.faults.seed = 3;
    emulator_thread emu(p);
    auto instances = emu.instances();
    auto fp = quick_fleet(instances, "lag8");
    fp.consistency_window = 10s;  // longer than the lag: unknowns are found, never sent again
    fp.poll_interval = 500ms;
    auto report = run_fleet(emu.client_params(), fp, 60s);
    for (const auto& r : report.instances)
        if (r.outcome != cbs::instance_outcome::normal && r.outcome != cbs::instance_outcome::skipped)
            FAIL_CHECK(r.instance_id << ": " << to_string(r.outcome) << ": " << r.error_message);
    CHECK(report.all_ok);
    check_exactly_once(emu, instances, "lag8");
    // The faults happened: answers were lost after the create was carried out.
    std::size_t lost = 0, slow = 0;
    for (const auto& rec : emu.server->request_log()) {
        if (rec.action != "CreateSnapshotGroup") continue;
        lost += rec.fault == "reset_after";
        slow += rec.fault == "slow";
    }
    CHECK(lost > 0);
    CHECK(slow > 0);
    CHECK(report.summary.adopted >= lost);        // each lost answer was reconciled by name
    CHECK(report.summary.duplicates_found == 0);  // and never sent again
    CHECK(count_log(emu, "DeleteSnapshotGroup") == 0);
}

TEST_CASE("fleet adversity: listing lag 60 s, 15 s window: duplicates are created, then deleted by the sweep") {
    auto p = fleet_emulator(20, 23);
    p.fleet.list_lag = 60s;
    p.faults.rules["CreateSnapshotGroup"].reset_after = 0.30;
    p.faults.seed = 9;
    emulator_thread emu(p);
    auto instances = emu.instances();
    auto fp = quick_fleet(instances, "lag60");
    fp.consistency_window = 15s;
    fp.max_resends = 1;
    fp.poll_interval = 1s;
    auto report = run_fleet(emu.client_params(), fp, 100s);
    // Duplicates were created (the window is shorter than the lag) ...
    const std::size_t lost = [&] {
        std::size_t n = 0;
        for (const auto& rec : emu.server->request_log())
            n += rec.action == "CreateSnapshotGroup" && rec.fault == "reset_after";
        return n;
    }();
    REQUIRE(lost > 0);
    const auto deleted_ok = count_log(emu, "DeleteSnapshotGroup", "ok");
    CHECK(deleted_ok > 0);
    // ... the report lists each deletion, as the emulator saw it ...
    CHECK(report.summary.duplicates_deleted == deleted_ok);
    CHECK(report.summary.duplicates_found == deleted_ok);
    std::size_t listed = 0;
    for (const auto& r : report.instances) listed += r.deleted_group_ids.size();
    CHECK(listed == deleted_ok);
    // ... and the final state is exactly one group per instance.
    check_exactly_once(emu, instances, "lag60");
    CHECK(report.all_ok);
    MESSAGE("lost answers " << lost << ", duplicates deleted " << deleted_ok << ", run " << report.summary.total_s
                            << " s");
}

// ---- resumed and concurrent runs ---------------------------------------------

TEST_CASE("fleet: a resume from another directory with no journal creates nothing again") {
    emulator_thread emu(fleet_emulator(30, 25));
    auto instances = emu.instances();
    auto fp = quick_fleet(instances, "resume");
    fp.journal_path = temp_path("here.journal");
    CHECK(run_fleet(emu.client_params(), fp).all_ok);
    emu.server->clear_request_log();
    fp.journal_path = temp_path("elsewhere/none.journal");  // another directory: no journal there
    std::filesystem::create_directories(std::filesystem::path(fp.journal_path).parent_path());
    auto again = run_fleet(emu.client_params(), fp);
    CHECK(again.all_ok);
    CHECK(count_log(emu, "CreateSnapshotGroup") == 0);
    CHECK(again.summary.creates_sent == 0);
    fp.journal_path.clear();  // and with no journal at all
    CHECK(run_fleet(emu.client_params(), fp).all_ok);
    CHECK(count_log(emu, "CreateSnapshotGroup") == 0);
    check_exactly_once(emu, instances, "resume");
}

TEST_CASE("fleet: two runs at once with one run id: the second is refused by the lock; two hosts: none twice") {
    auto p = fleet_emulator(20, 27);
    // Every create answers 150-300 ms late: the first run lasts a while.
    p.faults.rules["CreateSnapshotGroup"].latency = 1.0;
    p.faults.latency = 150ms;
    p.faults.latency_max = 300ms;
    emulator_thread emu(p);
    auto instances = emu.instances();
    auto fp = quick_fleet(instances, "twice");
    fp.journal_path = temp_path("twice.journal");
    std::optional<cbs::fleet_report> first;
    std::thread t([&] { first = run_fleet(emu.client_params(), fp); });
    std::this_thread::sleep_for(500ms);
    try {
        run_fleet(emu.client_params(), fp);
        FAIL_CHECK("the second run was not refused");
    } catch (const cbs::error& e) {
        CHECK(e.code() == cbs::client_errc::run_in_progress);
        CHECK(std::string(e.what()).find("twice.journal") != std::string::npos);
    }
    t.join();
    REQUIRE(first);
    CHECK(first->all_ok);
    check_exactly_once(emu, instances, "twice");

    // Two hosts (two journals), started together: the lookups and sweeps
    // leave one group per instance.
    auto fp2 = quick_fleet(instances, "hosts");
    std::optional<cbs::fleet_report> a, b;
    std::thread ta([&] { a = run_fleet(emu.client_params(), fp2); });
    std::thread tb([&] { b = run_fleet(emu.client_params(), fp2); });
    ta.join();
    tb.join();
    REQUIRE(a);
    REQUIRE(b);
    check_exactly_once(emu, instances, "hosts");
    for (const auto* rep : {&*a, &*b}) {
        CHECK(rep->all_ok);
        for (const auto& r : rep->instances)
            if (r.outcome != cbs::instance_outcome::normal && r.outcome != cbs::instance_outcome::skipped)
                FAIL_CHECK(r.instance_id << ": " << to_string(r.outcome) << ": " << r.error_message);
    }
}

// ---- the journal fails ---------------------------------------------------------

TEST_CASE("fleet: a journal that fails (EIO) stops the creates, ends, and reports it") {
    auto p = fleet_emulator(30, 29);
    // No lost answers here: the test compares the report's created count with
    // the state, and an unknown outcome would be neither. Every create is late.
    p.faults.rules["CreateSnapshotGroup"].reset_after = 0;
    p.faults.rules["CreateSnapshotGroup"].latency = 1.0;
    p.faults.latency = 100ms;
    emulator_thread emu(p);
    auto instances = emu.instances();
    cbs::memory_journal_params jp;
    jp.fail_from = 12;
    auto journal = std::make_shared<cbs::memory_journal>(jp);
    auto fp = quick_fleet(instances, "eio");
    fp.journal = journal;
    fp.concurrency = 4;
    auto report = run_fleet(emu.client_params(), fp, 30s);  // no hang
    CHECK_FALSE(report.all_ok);
    CHECK_FALSE(report.journal_error.empty());
    CHECK(report.summary.pending > 0);
    const auto creates = count_log(emu, "CreateSnapshotGroup");
    CHECK(creates < instances.size());
    // No create was sent without its durable intent.
    std::size_t intents = 0;
    for (const auto& rec : journal->records()) intents += rec.state == "intent";
    CHECK(creates <= intents);
    CHECK(report.summary.creates_sent == creates);
    // What was created is in the report, and nothing twice.
    auto groups = emu.groups_by_instance("eio");
    CHECK(report.summary.normal + report.summary.created == groups.size());
    for (auto& [id, g] : groups) CHECK(g.size() == 1);

    // A journal that never confirms: the wait is bounded, nothing is sent.
    emu.server->clear_request_log();
    cbs::memory_journal_params hold;
    hold.hold = true;
    fp.journal = std::make_shared<cbs::memory_journal>(hold);
    fp.journal_timeout = 300ms;
    fp.run_id = "hold";
    auto held = run_fleet(emu.client_params(), fp, 30s);
    CHECK(held.journal_error.find("journal_timeout") != std::string::npos);
    CHECK(count_log(emu, "CreateSnapshotGroup") == 0);
    CHECK(held.summary.pending == held.summary.instances - held.summary.skipped);
}

// ---- busy disks ---------------------------------------------------------------

TEST_CASE("fleet: migrating disks are waited for, then left out with the reason; an instance with none left fails") {
    emulator_thread emu(fleet_emulator(12, 31));
    auto instances = emu.instances();
    std::string partly, wholly;
    std::string left_out;
    for (const auto& id : instances) {
        auto disks = emu.snapshotable(id);
        if (disks.size() >= 2 && partly.empty()) {
            partly = id;
            left_out = disks[0];
        } else if (!disks.empty() && wholly.empty()) {
            wholly = id;
        }
    }
    REQUIRE_FALSE(partly.empty());
    REQUIRE_FALSE(wholly.empty());
    emu.server->inspect([&](emu::fleet_state& s) {
        s.set_migrating(left_out, true);
        for (const auto& d : s.disks_of(wholly)) s.set_rollbacking(d.disk_id, true);
    });
    auto fp = quick_fleet({partly, wholly}, "busy");
    fp.busy_disk_wait = 1s;
    auto report = run_fleet(emu.client_params(), fp);
    REQUIRE(report.instances.size() == 2);
    const auto& a = report.instances[0];
    CHECK(a.outcome == cbs::instance_outcome::normal);
    bool reason = false;
    for (const auto& s : a.skipped_disks)
        reason |= s.disk_id == left_out && s.reason.find("migrating") != std::string::npos;
    CHECK(reason);
    const auto& b = report.instances[1];
    CHECK(b.outcome == cbs::instance_outcome::failed);
    CHECK(b.error_name == "ResourceInUse.DiskBusy");
    CHECK_FALSE(report.all_ok);
    auto groups = emu.groups_by_instance("busy");
    REQUIRE(groups[partly].size() == 1);
    CHECK(std::find(groups[partly][0].disk_ids.begin(), groups[partly][0].disk_ids.end(), left_out) ==
          groups[partly][0].disk_ids.end());
    CHECK(groups.count(wholly) == 0);
}

// ---- the driver with a scripted client ---------------------------------------

namespace {

/// A client that answers from a script, for the driver alone: A's first
/// create is carried out but its answer lost, and its group is listed only
/// from the third lookup on; B's create is answered, and an older group of
/// B's name (another host's) appears once the creates are done.
struct scripted_client {
    std::string a = "ins-aaaaaaaa", b = "ins-bbbbbbbb";
    std::vector<std::string> calls;
    std::vector<cbs::snapshot_group> visible;
    cbs::client_params cp;
    unsigned creates = 0, a_lookups = 0;
    bool a_committed = false;

    const cbs::client_params& params() const { return cp; }

    static cbs::snapshot_group group(std::string id, std::string name, std::string created) {
        cbs::snapshot_group g;
        g.snapshot_group_id = std::move(id);
        g.name = std::move(name);
        g.state = "NORMAL";
        g.create_time = std::move(created);
        return g;
    }

    template <class Req>
    asio::awaitable<cbs::result<typename Req::response_type>> async_invoke(Req req, cbs::call_options,
                                                                           cbs::as_result_t) {
        cbs::result<typename Req::response_type> out;
        calls.emplace_back(Req::action);
        if constexpr (std::is_same_v<Req, cbs::describe_disks_request>) {
            for (const auto& [id, disk] : {std::pair{a, "disk-aaaa0001"}, std::pair{b, "disk-bbbb0001"}}) {
                cbs::disk d;
                d.disk_id = disk;
                d.instance_id = id;
                d.disk_state = "ATTACHED";
                d.disk_usage = "DATA_DISK";
                d.snapshot_ability = true;
                out.value.disk_set.push_back(d);
            }
            out.value.total_count = 2;
        } else if constexpr (std::is_same_v<Req, cbs::describe_snapshot_groups_request>) {
            const auto& f = req.filters.at(0);
            if (f.name == "snapshot-group-name" && a_committed &&
                std::find(f.values.begin(), f.values.end(), "fleet-" + a + "-s") != f.values.end() && ++a_lookups == 3)
                visible.push_back(group("csnap-aaaa0001", "fleet-" + a + "-s", "2026-01-01 00:00:02"));
            for (const auto& g : visible) {
                const auto& key = f.name == "snapshot-group-name" ? g.name : g.snapshot_group_id;
                if (std::find(f.values.begin(), f.values.end(), key) != f.values.end())
                    out.value.snapshot_group_set.push_back(g);
            }
            out.value.total_count = out.value.snapshot_group_set.size();
        } else if constexpr (std::is_same_v<Req, cbs::create_snapshot_group_request>) {
            ++creates;
            if (req.snapshot_group_name.find(a) != std::string::npos) {
                a_committed = true;
                out.ec = cbs::client_errc::outcome_unknown;
            } else {
                out.value.snapshot_group_id = "csnap-bbbb0002";
                visible.push_back(group("csnap-bbbb0002", req.snapshot_group_name, "2026-01-01 00:00:05"));
                visible.push_back(group("csnap-bbbb0001", req.snapshot_group_name, "2026-01-01 00:00:01"));
            }
        } else if constexpr (std::is_same_v<Req, cbs::delete_snapshot_group_request>) {
            for (const auto& id : req.snapshot_group_ids)
                std::erase_if(visible, [&](const auto& g) { return g.snapshot_group_id == id; });
        }
        co_return out;
    }
};

}  // namespace

TEST_CASE("fleet: the driver with a scripted client: lost answer reconciled, older duplicate kept, newer deleted") {
    asio::io_context io;
    scripted_client c;
    auto fp = quick_fleet({c.a, c.b}, "s");
    fp.consistency_window = 2s;
    std::vector<std::string> events;
    std::optional<cbs::fleet_report> report;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            report = co_await cbs::detail::async_snapshot_fleet_with(c, fp, [&](const cbs::fleet_event& e) {
                events.push_back(std::string(e.instance_id) + " " + std::to_string(e.what));
            });
        },
        [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    io.run_for(20s);
    REQUIRE(report);
    CHECK(io.stopped());
    CHECK(c.creates == 2);  // A's lost answer was found by name, never sent again
    const auto& ra = report->instances[0];
    CHECK(ra.group_id == "csnap-aaaa0001");
    CHECK(ra.adopted);
    CHECK(ra.outcome == cbs::instance_outcome::normal);
    const auto& rb = report->instances[1];
    CHECK(rb.group_id == "csnap-bbbb0001");                                     // the oldest is kept ...
    CHECK(rb.deleted_group_ids == std::vector<std::string>{"csnap-bbbb0002"});  // ... the newer deleted
    CHECK(rb.outcome == cbs::instance_outcome::normal);
    CHECK(std::count(c.calls.begin(), c.calls.end(), "DeleteSnapshotGroup") == 1);
    CHECK(c.visible.size() == 2);
    CHECK(report->summary.duplicates_deleted == 1);
    CHECK(report->all_ok);
    // The first calls: discover, then look every planned name up before any create.
    REQUIRE(c.calls.size() > 3);
    CHECK(c.calls[0] == "DescribeDisks");
    CHECK(c.calls[1] == "DescribeSnapshotGroups");
    CHECK(c.calls[2] == "CreateSnapshotGroup");
}

TEST_CASE("fleet: a cancel while the sweep waits out the window ends the run at once, interrupted") {
    emulator_thread emu(fleet_emulator(10, 33));
    auto instances = emu.instances();
    auto fp = quick_fleet(instances, "cancel-sweep");
    fp.consistency_window = 60s;  // the sweep would wait a minute after the last create
    std::optional<cbs::fleet_report> report;
    asio::io_context io;
    cbs::client c(io.get_executor(), emu.client_params());
    asio::cancellation_signal cancel;
    asio::co_spawn(io, cbs::async_snapshot_fleet(c, fp),
                   asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e, cbs::fleet_report r) {
                       if (e) std::rethrow_exception(e);
                       report = std::move(r);
                   }));
    asio::steady_timer t(io, 3s);
    t.async_wait([&](auto) { cancel.emit(asio::cancellation_type::terminal); });
    io.run_for(20s);  // far less than the window
    REQUIRE(report);
    CHECK(io.stopped());
    CHECK(report->interrupted);
    CHECK_FALSE(report->all_ok);
    CHECK(report->summary.normal + report->summary.skipped == instances.size());
    check_exactly_once(emu, instances, "cancel-sweep");
}

TEST_CASE("fleet: a realistic fleet with slow and lost answers and listing lag: exactly once, never over the rate") {
    // Odd disks from the emulator's state (migrating, rolling back, attaching,
    // detaching, many disks), uneven creation times, half the creates slow and
    // 20% of their answers lost after the create ran, 30% of all answers
    // 50-400 ms late, and a 4 s listing lag.
    auto p = fleet_emulator(60, 31);
    p.fleet.realistic = true;
    p.fleet.odd_fraction = 0.1;
    p.fleet.time_scale = 0.05;
    p.fleet.list_lag = 4s;
    emu::fault_rule create;
    create.reset_after = 0.20;
    create.slow = 0.30;
    create.latency = 0.30;
    emu::fault_rule other;
    other.latency = 0.30;
    p.faults.rules["CreateSnapshotGroup"] = create;
    p.faults.rules["*"] = other;
    p.faults.slow_delay = 2500ms;
    p.faults.latency = 50ms;
    p.faults.latency_max = 400ms;
    p.faults.seed = 17;
    emulator_thread emu(p);
    auto instances = emu.instances();
    auto fp = quick_fleet(instances, "real");
    fp.consistency_window = 6s;  // longer than the lag
    fp.poll_interval = 500ms;
    auto report = run_fleet(emu.client_params(), fp, 110s);

    // From the emulator's state: no instance has two groups of the run, and
    // every instance the report calls covered has exactly one, over the
    // disks the report says.
    auto groups = emu.groups_by_instance("real");
    std::size_t covered = 0;
    for (const auto& r : report.instances) {
        CAPTURE(r.instance_id);
        CAPTURE(r.error_message);
        const auto n = groups.count(r.instance_id) ? groups[r.instance_id].size() : 0;
        CHECK(n <= 1);
        if (r.outcome == cbs::instance_outcome::normal) {
            ++covered;
            REQUIRE(n == 1);
            auto got = groups[r.instance_id][0].disk_ids;
            auto want = r.disk_ids;
            std::sort(got.begin(), got.end());
            std::sort(want.begin(), want.end());
            CHECK(got == want);
        } else {
            // Not covered: only for a reason the state gives (a disk busy past
            // busy_disk_wait, or nothing to snapshot), never unknown or pending.
            CHECK((r.outcome == cbs::instance_outcome::skipped || r.error_name == "ResourceInUse.DiskBusy"));
            CHECK(n == 0);
        }
        for (const auto& sd : r.skipped_disks) CHECK_FALSE(sd.reason.empty());
    }
    CHECK(covered >= instances.size() * 8 / 10);
    // Every odd kind was there and each skipped disk says why.
    std::size_t busy_skipped = 0;
    for (const auto& r : report.instances)
        for (const auto& sd : r.skipped_disks) busy_skipped += sd.reason.find("SnapshotAbility") == std::string::npos;
    MESSAGE(covered << " of " << instances.size() << " covered, " << busy_skipped << " disks left out for their state");

    // From its log: the faults happened, and no action went over its limit in
    // any sliding second.
    const auto log = emu.server->request_log();
    std::size_t lost = 0, slow = 0;
    for (const auto& rec : log) {
        lost += rec.fault == "reset_after";
        slow += rec.fault == "slow";
        CHECK_FALSE(rec.throttled);
    }
    CHECK(lost > 0);
    CHECK(slow > 0);
    for (std::string_view action :
         {"CreateSnapshotGroup", "DescribeSnapshotGroups", "DescribeDisks", "DeleteSnapshotGroup"}) {
        CAPTURE(action);
        CHECK(cbs::test::max_in_window(log, action) <= emu::documented_rate_limit(action));
    }
}

// ---- a fleet split over hosts (--shard I/N) -----------------------------------

TEST_CASE("fleet shards: 3 shards of one run id at once, listing lag, lost and slow answers: one group each") {
    // fleet_emulator's conditions (2 s listing lag, lost, slow and late
    // answers), 3 drivers of one run id, shards 1/3 2/3 3/3, each with its
    // own journal and its own client (as 3 hosts), all at once; shards 1 and
    // 2 are given the list, shard 3 discovers the instances (--all).
    emulator_thread emu(fleet_emulator(60, 41));
    auto instances = emu.instances();
    std::vector<std::optional<cbs::fleet_report>> reports(3);
    std::vector<std::thread> hosts;
    for (std::size_t i = 1; i <= 3; ++i)
        hosts.emplace_back([&, i] {
            auto fp = quick_fleet(i == 3 ? std::vector<std::string>{} : instances, "split");
            fp.all_instances = i == 3;
            fp.shard_index = i;
            fp.shard_count = 3;
            fp.journal_path = temp_path("split." + std::to_string(i) + ".journal");
            auto cp = emu.client_params();
            // Three hosts on one account share its limits: a third each.
            cp.rate_overrides = {{"CreateSnapshotGroup", 6}, {"DescribeSnapshotGroups", 6}, {"DescribeDisks", 6}};
            reports[i - 1] = run_fleet(cp, fp, 100s);
        });
    for (auto& t : hosts) t.join();

    // From the emulator's state: every instance has exactly one group of the
    // run, over its snapshotable disks, made by the instance's own shard (the
    // group's cbs-fleet-shard tag).
    check_exactly_once(emu, instances, "split");
    emu.server->inspect([](emu::fleet_state& s) {
        for (const auto& g : s.groups()) {
            CAPTURE(g.name);
            std::string shard;
            for (const auto& t : g.tags)
                if (t.key == "cbs-fleet-shard") shard = t.value;
            CHECK(shard == std::to_string(cbs::fleet_shard_of(g.instance_id, 3)) + "/3");
        }
    });
    // The faults happened.
    std::size_t lost = 0, slow = 0;
    for (const auto& rec : emu.server->request_log()) {
        lost += rec.action == "CreateSnapshotGroup" && rec.fault == "reset_after";
        slow += rec.action == "CreateSnapshotGroup" && rec.fault == "slow";
    }
    CHECK(lost > 0);
    CHECK(slow > 0);
    // The three reports cover every instance once between them, each only
    // its own shard, and say so.
    std::map<std::string, std::size_t> by;
    for (std::size_t i = 1; i <= 3; ++i) {
        CAPTURE(i);
        REQUIRE(reports[i - 1]);
        const auto& r = *reports[i - 1];
        CHECK(r.all_ok);
        CHECK(r.shard_index == i);
        CHECK(r.shard_count == 3);
        CHECK(r.listed_instances == instances.size());
        CHECK(r.summary.instances == r.instances.size());
        CHECK(r.instances.size() < instances.size());
        for (const auto& ir : r.instances) {
            CHECK(cbs::fleet_shard_of(ir.instance_id, 3) == i);
            ++by[ir.instance_id];
        }
    }
    CHECK(by.size() == instances.size());
    for (const auto& [id, n] : by) CHECK(n == 1);
}

TEST_CASE("fleet shards: two shards with one journal file: the second is refused naming the shard") {
    emulator_thread emu(fleet_emulator(6, 43));
    auto instances = emu.instances();
    auto fp = quick_fleet(instances, "onejournal");
    fp.shard_count = 2;
    fp.journal_path = temp_path("onejournal.journal");
    CHECK(run_fleet(emu.client_params(), fp).all_ok);
    fp.shard_index = 2;
    try {
        run_fleet(emu.client_params(), fp);
        FAIL_CHECK("shard 2 resumed shard 1's journal");
    } catch (const cbs::error& e) {
        CHECK(e.code() == cbs::client_errc::invalid_config);
        CHECK(std::string(e.what()).find("--shard '1/2'; this run has '2/2'") != std::string::npos);
    }
    fp.shard_index = 3;  // and a shard that does not exist is refused before anything is sent
    emu.server->clear_request_log();
    try {
        run_fleet(emu.client_params(), fp);
        FAIL_CHECK("shard 3/2 ran");
    } catch (const cbs::error& e) {
        CHECK(e.code() == cbs::client_errc::invalid_request);
        CHECK(std::string(e.what()).find("shard 3/2: the shard index must be from 1 to 2") != std::string::npos);
    }
    CHECK(emu.server->request_log().empty());
}
