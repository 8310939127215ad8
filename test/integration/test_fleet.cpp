// The fleet engine against the embedded emulator over real TLS: every
// instance covered exactly once, with faults, and across a killed run.
#include <cbs/emulator/emulator.hpp>
#include <cbs/fleet.hpp>
#include <cbs/journal.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <sys/wait.h>
#include <unistd.h>
#include <map>
#include <thread>

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
    /// Groups of this run per instance, and the disks each group covers.
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

emu::emulator_params fleet_emulator(std::size_t instances, std::uint64_t seed = 7) {
    emu::emulator_params p;
    p.fleet.instances = instances;
    p.fleet.seed = seed;
    p.fleet.creating_time = 300ms;
    return p;
}

cbs::fleet_report run_fleet(cbs::client_params cp, cbs::fleet_params fp) {
    asio::io_context io;
    cbs::client c(io.get_executor(), std::move(cp));
    std::optional<cbs::fleet_report> report;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> { report = co_await cbs::async_snapshot_fleet(c, fp); },
                   [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
    io.run_for(120s);
    REQUIRE(report);
    return *report;
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
    cbs::fleet_params fp;
    fp.instance_ids = instances;
    fp.run_id = "t1";
    fp.poll_interval = 100ms;
    auto report = run_fleet(emu.client_params(), fp);
    CHECK(report.all_ok);
    CHECK(report.summary.instances == 40);
    CHECK(report.summary.normal + report.summary.skipped == 40);
    check_exactly_once(emu, instances, "t1");
    for (const auto& rec : emu.server->request_log()) {
        CAPTURE(rec.action);
        CHECK(rec.outcome != "RequestLimitExceeded");
    }
    // Report records name the group and its RequestIds.
    for (const auto& r : report.instances) {
        if (r.outcome != cbs::instance_outcome::normal) continue;
        CHECK(r.group_name == "fleet-" + r.instance_id + "-t1");
        CHECK(r.group_id.starts_with("csnap-"));
        CHECK_FALSE(r.request_ids.empty());
    }
}

TEST_CASE("fleet: with transient faults, gateway errors and creates committed then dropped: none missing, none twice") {
  // Also with client_params::thread_safe off: the fleet then drives the
  // client from its own strand on this single-threaded io_context.
  for (const bool thread_safe : {true, false}) {
    CAPTURE(thread_safe);
    auto p = fleet_emulator(60, 11);
    emu::fault_rule create;
    create.transient = 0.10;
    create.gateway_502 = 0.05;
    create.reset_after = 0.20;
    p.faults.rules["CreateSnapshotGroup"] = create;
    emu::fault_rule describe;
    describe.transient = 0.10;
    p.faults.rules["DescribeSnapshotGroups"] = describe;
    p.faults.rules["DescribeDisks"] = describe;
    p.faults.seed = 5;
    emulator_thread emu(p);
    auto instances = emu.instances();
    cbs::fleet_params fp;
    fp.instance_ids = instances;
    fp.run_id = "t2";
    fp.poll_interval = 100ms;
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
    emu::fault_rule slow;
    slow.latency = 1.0;  // every create answers after 200 ms: some are in flight at the kill
    p.faults.rules["CreateSnapshotGroup"] = slow;
    p.faults.latency = 200ms;
    emulator_thread emu(p);
    auto instances = emu.instances();
    const auto journal = temp_path("kill.journal");
    cbs::fleet_params fp;
    fp.instance_ids = instances;
    fp.run_id = "t3";
    fp.journal_path = journal;
    fp.poll_interval = 100ms;
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
    cbs::fleet_params fp;
    fp.instance_ids = {instances[0], "ins-zzzzzzzz", "not-an-id", instances[1]};
    fp.run_id = "t4";
    fp.poll_interval = 100ms;
    auto report = run_fleet(emu.client_params(), fp);
    CHECK_FALSE(report.all_ok);
    REQUIRE(report.instances.size() == 4);
    CHECK(report.instances[1].outcome == cbs::instance_outcome::failed);
    CHECK(report.instances[1].error_code == "InvalidInstanceId.NotFound");
    CHECK(report.instances[2].outcome == cbs::instance_outcome::failed);
    CHECK(report.instances[2].error_code == "InvalidInstanceId.Malformed");
    CHECK(report.summary.normal + report.summary.skipped == 2);
    auto groups = emu.groups_by_instance("t4");
    CHECK(groups.size() <= 2);

    fp.instance_ids = {instances[0], instances[0]};
    fp.run_id = "t5";
    CHECK_THROWS_WITH_AS(run_fleet(emu.client_params(), fp), doctest::Contains("listed twice"), cbs::error);
}

TEST_CASE("fleet: a journal of another run is refused") {
    emulator_thread emu(fleet_emulator(3));
    const auto journal = temp_path("other.journal");
    cbs::fleet_params fp;
    fp.instance_ids = emu.instances();
    fp.run_id = "a";
    fp.journal_path = journal;
    fp.poll_interval = 100ms;
    run_fleet(emu.client_params(), fp);
    fp.run_id = "b";
    CHECK_THROWS_WITH_AS(run_fleet(emu.client_params(), fp), doctest::Contains("belongs to run 'a'"), cbs::error);
}

TEST_CASE("fleet: a cancelled run (Ctrl-C) reports what happened, and a re-run completes it exactly once") {
    auto p = fleet_emulator(60, 17);
    emu::fault_rule slow;
    slow.latency = 1.0;  // creates answer after 300 ms: several are in flight at the cancel
    p.faults.rules["CreateSnapshotGroup"] = slow;
    p.faults.latency = 300ms;
    emulator_thread emu(p);
    auto instances = emu.instances();
    const auto journal = temp_path("cancel.journal");
    cbs::fleet_params fp;
    fp.instance_ids = instances;
    fp.run_id = "t6";
    fp.journal_path = journal;
    fp.poll_interval = 100ms;
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
