// The emulator's request pipeline, without I/O: one complete HTTP request in,
// a reply plan out (see emulator.hpp for the order of the checks). Holds all
// shared state (fleet, rate windows, fault RNG, request log) behind one mutex.
#pragma once

#include "rate_window.hpp"
#include "sts.hpp"

#include <cbs/emulator/emulator.hpp>

#include <boost/json/object.hpp>

#include <chrono>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>

namespace cbs::emu::detail {

struct incoming_request {
    std::string_view method;  ///< as sent (upper case)
    std::string_view target;
    std::span<const http_header> headers;
    std::string_view body;
    bool body_too_large = false;  ///< the body exceeded max_body (not read)
};

struct reply_plan {
    enum class kind { respond, gateway_502, reset };
    kind what = kind::respond;
    std::string body;                    ///< respond: the JSON envelope
    std::chrono::milliseconds delay{0};  ///< wait before answering (latency, slow)
    bool close = false;                  ///< close the connection after answering
};

/// One fault decision (exposed for tests of the draw).
struct fault_draw {
    std::string kind;  ///< "" or transient|gateway_502|reset_before|reset_after|slow
    bool latency = false;
    std::string transient_code;
};

/// GET query string -> request parameters ("DiskIds.0=a&Limit=20" ->
/// {"DiskIds":["a"],"Limit":20}). false and `why` when malformed.
bool query_to_params(std::string_view query, boost::json::object& out, std::string& why);

/// True if `s` is well-formed UTF-8.
bool is_utf8(std::string_view s) noexcept;

/// `s` as well-formed UTF-8: each byte of an ill-formed sequence becomes
/// U+FFFD. Messages quote request bytes, and every answer must be JSON.
std::string utf8_safe(std::string_view s);

/// A fresh UUID v4 from `rng`.
std::string make_uuid_v4(std::mt19937_64& rng);

class gateway {
public:
    gateway(const emulator_params& params, std::vector<account> accounts);

    reply_plan handle(const incoming_request& req, tc3_signer& signer);

    /// Opens the JSONL log (append). Throws std::runtime_error.
    void open_log(const std::string& path);

    // Inspection (each takes the lock).
    void inspect(const std::function<void(fleet_state&)>& f);
    /// std::invalid_argument for a region not accepted.
    void inspect(const std::string& region, const std::function<void(fleet_state&)>& f);
    std::vector<std::string> fleet_regions() const;
    std::vector<request_record> request_log() const;
    void clear_request_log();
    void set_faults(fault_params f);
    void set_rate_limits(rate_limit_params r);
    std::vector<account> accounts() const;

    /// With persist_state: called (under the lock) after each change of the
    /// fleets' state. Set before requests flow.
    void set_on_change(std::function<void()> f) { on_change_ = std::move(f); }
    /// With persist_state: the state file's text (every region, the id
    /// registry), or nullopt when nothing changed since the last call.
    std::optional<std::string> state_if_changed();

    /// One request to the metadata service (gateway_sts.cpp): answered and logged.
    metadata_answer handle_metadata(std::string_view method, std::string_view target);
    std::vector<issued_credential> issued_credentials() const;
    void expire_issued_credentials();
    /// The server's unix time (emulator_params::unix_time, called under the
    /// lock like everywhere else), for Date headers.
    std::int64_t unix_now() const {
        std::lock_guard lock(mu_);
        return params_.unix_time();
    }

private:
    /// The key of a SecretId: a configured one, else an issued one (nullptr: unknown).
    const account* find_key(std::string_view secret_id) const;
    /// Runs an STS action (AssumeRole, AssumeRoleWithWebIdentity) for a
    /// caller already authenticated (`caller` "" when unsigned).
    sts_outcome run_sts(std::string_view action, const boost::json::object& params, const std::string& caller,
                        std::int64_t now);
    fault_draw draw_fault(std::string_view action);
    /// The delay of a slow or latency fault (from delay_rng_).
    std::chrono::milliseconds draw_fault_delay(bool slow);
    /// The refusal code of a throttled request (from throttle_rng_).
    const std::string& draw_throttle_code();
    /// Builds the fleets of fleet.region and fleet_regions, or loads them
    /// from the state file (gateway_regions.cpp).
    void build_fleets();
    /// Loads the state file's regions (std::runtime_error naming the file).
    void load_state(const std::string& path);
    /// The fleet_params of `region`'s fleet (its seed derived from the region).
    fleet_params params_for(const std::string& region) const;
    /// A change to the fleets' state (persist_state).
    void changed();
    /// The rate window key of (SecretId, action[, region]) under the configured scope.
    std::string window_key(const std::string& secret_id, std::string_view action, std::string_view region) const;
    unsigned limit_for(std::string_view action) const;
    /// The state of `region` (an empty fleet made on first use for an
    /// accepted region without one).
    fleet_state& fleet_for(std::string_view region);
    void record(request_record rec);
    std::string envelope(const boost::json::object& response, const std::string& request_id) const;
    std::string error_envelope(const api_failure& f, const std::string& request_id) const;

    mutable std::mutex mu_;
    emulator_params params_;
    std::vector<account> accounts_;
    std::shared_ptr<id_registry> ids_;        // shared by every region's fleet
    std::vector<std::string> fleet_regions_;  // fleet.region, then params.fleet_regions (each once)
    std::map<std::string, std::unique_ptr<fleet_state>, std::less<>> fleets_;  // by region
    std::uint64_t state_version_ = 1, saved_version_ = 0;                      // persist_state: saved when they differ
    std::function<void()> on_change_;
    rate_window windows_;
    std::mt19937_64 fault_rng_;
    std::mt19937_64 delay_rng_;  // separate, so delays do not shift the fault sequence
    std::mt19937_64 throttle_rng_;
    std::map<std::string, std::string, std::less<>> uin_of_;  // SecretId -> account (uin, else itself)
    sts_state sts_;                                           // issued temporary credentials
    std::mt19937_64 id_rng_;
    std::deque<request_record> log_;
    std::ofstream log_file_;
};

}  // namespace cbs::emu::detail
