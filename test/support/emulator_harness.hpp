// Test helper for the emulator's own tests (regions, restore, persistence):
// clocks the test moves by hand, a one-attempt client of an emulator (the
// test wants the server's first answer, not a retry's) and small JSON
// builders. Header-only.
#pragma once

#include "support/run_to_end.hpp"

#include <cbs/client.hpp>
#include <cbs/emulator/emulator.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace cbs::test {

/// A steady clock the test moves by hand (copies share the time).
struct manual_steady_clock {
    std::shared_ptr<std::atomic<std::int64_t>> offset_ns = std::make_shared<std::atomic<std::int64_t>>(0);
    emu::clock::time_point base = emu::clock::now();
    std::function<emu::clock::time_point()> fn() const {
        return [o = offset_ns, b = base] { return b + std::chrono::nanoseconds(o->load()); };
    }
    emu::clock::time_point now() const { return base + std::chrono::nanoseconds(offset_ns->load()); }
    void advance(std::chrono::nanoseconds d) const { *offset_ns += d.count(); }
    /// Moves to `t` if that is later (never back).
    void advance_to(emu::clock::time_point t) const {
        if (t > now()) *offset_ns += (t - now()).count();
    }
};

/// A wall clock the test moves by hand (fleet_params::system_now), starting
/// at `start` unix seconds.
struct manual_wall_clock {
    std::shared_ptr<std::atomic<std::int64_t>> unix_ms;
    explicit manual_wall_clock(std::int64_t start = 1'780'000'000)
        : unix_ms(std::make_shared<std::atomic<std::int64_t>>(start * 1000)) {}
    std::function<std::chrono::system_clock::time_point()> fn() const {
        return [m = unix_ms] { return std::chrono::system_clock::time_point{std::chrono::milliseconds{m->load()}}; };
    }
    void advance(std::chrono::milliseconds d) const { *unix_ms += d.count(); }
};

inline constexpr const char* harness_id = "AKIDEMULATORHARNESS00000000000000000";
inline constexpr const char* harness_key = "emulator-harness-test-key";

/// Emulator params with the harness key and no rate limits.
inline emu::emulator_params harness_params(std::size_t instances = 10) {
    emu::emulator_params p;
    p.fleet.instances = instances;
    p.fleet.no_snapshot_ability = 0;
    p.accounts = {{harness_id, harness_key, ""}};
    p.rate_limits.enabled = false;
    return p;
}

/// A client of `e` in `region`, one attempt per call, no client-side rate limit.
inline client_params harness_client(const emu::emulator& e, const std::string& region = "ap-guangzhou") {
    using namespace std::chrono_literals;
    client_params p;
    p.endpoint = e.endpoint();
    p.pool.ca_file = e.ca_file();
    p.creds = {harness_id, harness_key, "", "explicit"};
    p.region = region;
    p.request_timeout = 5s;
    p.rate_limit = false;
    p.retry.throttle_max_attempts = p.retry.transient_max_attempts = p.retry.network_max_attempts =
        p.retry.busy_max_attempts = 1;
    return p;
}

/// Runs `body` on `io` to its end, then stops `e`.
template <class F>
void run_emulator_test(boost::asio::io_context& io, emu::emulator& e, F body) {
    run_to_end(
        io, [&] { e.stop(); }, std::move(body), std::chrono::seconds(30));
}

inline boost::json::array json_strings(const std::vector<std::string>& v) {
    boost::json::array a;
    for (const auto& s : v) a.emplace_back(s);
    return a;
}

/// {"Filters":[{"Name": name, "Values": [values...]}]}
inline boost::json::object one_filter(const std::string& name, const std::vector<std::string>& values) {
    return boost::json::object{
        {"Filters", boost::json::array{boost::json::object{{"Name", name}, {"Values", json_strings(values)}}}}};
}

/// The same with one value. (Inside a coroutine, GCC 12 cannot pass a braced
/// list as a temporary argument: "array used as initializer".)
inline boost::json::object one_filter(const std::string& name, const std::string& value) {
    return one_filter(name, std::vector<std::string>{value});
}

/// {"SnapshotGroupId": id}
inline boost::json::object group_id_body(const std::string& id) {
    return boost::json::object{{"SnapshotGroupId", id}};
}

/// CreateSnapshotGroup's body.
inline boost::json::object group_body(const std::vector<std::string>& disks, const std::string& name) {
    return boost::json::object{{"DiskIds", json_strings(disks)}, {"SnapshotGroupName", name}};
}

/// The disk ids of `instance` in `f`.
inline std::vector<std::string> disk_ids_of(const emu::fleet_state& f, const std::string& instance) {
    std::vector<std::string> out;
    for (const auto& d : f.disks_of(instance)) out.push_back(d.disk_id);
    return out;
}

}  // namespace cbs::test
