// cbs-async emulator: an HTTPS look-alike of Tencent Cloud CBS (API 3.0).
//
// A real TLS server (Beast, HTTP/1.1 keep-alive, TLS 1.2 minimum) that
// verifies TC3-HMAC-SHA256 signatures exactly as the service does, keeps a
// synthetic fleet (fleet_state), enforces the documented per-action rate
// limits and injects faults. Runs embedded:
//
//   asio::io_context io;
//   cbs::emu::emulator emu(io.get_executor(), {});
//   emu.start();                              // binds 127.0.0.1:0, writes the CA
//   cbs::client_params p;
//   p.endpoint = emu.endpoint();              // "https://localhost:<port>"
//   p.pool.ca_file = emu.ca_file();
//   p.creds = {emu.accounts()[0].secret_id, emu.accounts()[0].secret_key};
//   ... run calls ... emu.stop(); io.run() then returns.
//
// or standalone as `cbsctl emulator`.
//
// Every answer is HTTP 200 with {"Response":{..., "RequestId": <UUID v4>}},
// errors included (except injected gateway 502s and resets). Checks, in the
// order the gateway makes them (the first failure answers):
//   1. method GET or POST                        UnsupportedProtocol
//      body <= max_body                          RequestSizeLimitExceeded (connection closed)
//   2. X-TC-Action, X-TC-Version, X-TC-Timestamp, X-TC-Region present
//                                                MissingParameter (naming the header)
//      X-TC-Timestamp a decimal integer          InvalidParameterValue
//      POST: Content-Type application/json (any parameters, e.g. charset)
//                                                InvalidParameter
//   3. TC3 signature, time, SecretId, token      AuthFailure.* (see auth.hpp)
//      (credential scope service "sts" for the STS actions, "cbs" otherwise;
//      AssumeRoleWithWebIdentity may send `Authorization: SKIP` instead)
//      issued temporary credentials not expired  AuthFailure.TokenFailure
//   4. action known (CBS, or STS: AssumeRole, AssumeRoleWithWebIdentity)
//                                                InvalidAction
//      X-TC-Version 2017-03-12 (STS: 2018-08-13) NoSuchVersion
//      X-TC-Region a CBS region                  UnsupportedRegion
//   5. rate limit per (SecretId or account, action), and region when
//      rate_limit_params::per_region             RequestLimitExceeded[.sub-code]
//                                                (drawn from rate_limit_params::throttle_codes)
//   6. body: POST a JSON object; GET the query string (DiskIds.0=..., Filters.0.Name=...)
//                                                InvalidParameter
//   7. fault injection (only requests that passed 1-6)
//   8. the action on the fleet of X-TC-Region (fleet_state::handle): its own codes; an
//      STS action issues temporary credentials (docs/emulator.md lists its
//      codes), which every CBS action then accepts with X-TC-Token until they
//      expire on the emulator's clock (unix_time).
//
// Every answer carries a Date header from unix_time. With params.metadata a
// second listener, plain HTTP on 127.0.0.1, serves the CVM metadata paths
// /latest/meta-data/cam/security-credentials/[<role>] (metadata_endpoint()).
//
// Threading: all shared state is behind one mutex; each connection runs on
// its own strand, so the emulator may run on a multi-threaded io_context.
// Every member function is thread-safe.
#pragma once

#include <cbs/emulator/auth.hpp>
#include <cbs/emulator/fleet_state.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cbs::emu {

/// Whose requests share a rate window (beside the action).
enum class rate_scope {
    secret_id,  ///< each SecretId its own windows (the documented dimension: action + sub-account key)
    account,    ///< every key of one account (account::uin) shares the windows
};

/// The refusal codes of the default mix (rate_limit_params::throttle_codes).
const std::vector<std::pair<std::string, double>>& default_throttle_codes();

/// Sliding-window rate limits: at most N requests accepted per (SecretId or
/// account, action) in any window of `window` (counted by arrival time;
/// rejected requests are not counted).
struct rate_limit_params {
    /// Enforce limits at all. Default true (turn off for throughput benchmarks).
    bool enabled = true;
    /// Per-action limits (requests per window) overriding the documented ones:
    /// 20 for CreateSnapshotGroup, DescribeSnapshotGroups, DeleteSnapshotGroup,
    /// ApplySnapshotGroup, CreateSnapshot, DescribeSnapshots; 100 for
    /// DescribeDisks. 0 = unlimited. Default empty.
    std::map<std::string, unsigned, std::less<>> overrides;
    /// Limit of actions with no documented limit. Default 20.
    unsigned default_limit = 20;
    /// Window length. Default 1 s.
    std::chrono::milliseconds window{1000};
    /// Who shares a window. Default rate_scope::secret_id.
    rate_scope scope = rate_scope::secret_id;
    /// Windows per region too. Default false: one window per (SecretId or
    /// account, action) counts the requests of every region together, the
    /// conservative reading of RequestLimitExceeded.GlobalRegionUinLimitExceeded
    /// (a main account's limit across regions). true: each region its own
    /// windows, per (SecretId or account, action, region); a refusal then
    /// never draws .GlobalRegionUinLimitExceeded from throttle_codes.
    bool per_region = false;
    /// Codes a refused request is answered with, each with a weight (> 0);
    /// one is drawn per refusal. Default default_throttle_codes(): bare
    /// RequestLimitExceeded 55 %, .UinLimitExceeded 20 %, .IPLimitExceeded
    /// 15 %, .GlobalRegionUinLimitExceeded 10 %. {{"RequestLimitExceeded", 1}}
    /// answers only the bare code. Every code must start with "RequestLimitExceeded".
    std::vector<std::pair<std::string, double>> throttle_codes = default_throttle_codes();
    /// Seed of the refusal-code draw (same seed and order, same codes). Default 1.
    std::uint64_t seed = 1;
};

/// The documented limit of `action` (20 or 100), or `default_limit`.
unsigned documented_rate_limit(std::string_view action, unsigned default_limit = 20) noexcept;

/// Fault probabilities of one action, each in [0, 1]. At most one of
/// transient / gateway_502 / reset_before / reset_after / slow fires per
/// request (drawn in that order from one uniform number, so their sum should
/// be <= 1); latency is drawn independently and adds to any of them.
struct fault_rule {
    double transient = 0;     ///< answer one of fault_params::transient_codes; the action does not run
    double gateway_502 = 0;   ///< HTTP 502 with an HTML body and Connection: close; the action does not run
    double reset_before = 0;  ///< TCP reset (no response); the action does not run
    double reset_after = 0;   ///< the action RUNS (a create is committed), then TCP reset: the ambiguous case
    double slow = 0;          ///< the action runs, the answer is written after a delay drawn in slow_range()
    double latency = 0;       ///< the answer is delayed by a delay drawn in latency_range()
    bool any() const noexcept {
        return transient > 0 || gateway_502 > 0 || reset_before > 0 || reset_after > 0 || slow > 0 || latency > 0;
    }
};

/// How an injected delay is drawn from its range [least, greatest].
enum class delay_shape {
    fixed,      ///< always the greatest
    uniform,    ///< uniformly
    long_tail,  ///< least + (greatest - least) × u³: half the draws in the lowest eighth, one in ten above 73 %
};

struct fault_params {
    /// Seed of the fault RNG (same seed and same request order, same faults). Default 1.
    std::uint64_t seed = 1;
    /// Rules per action; the key "*" applies to actions without their own rule. Default none.
    std::map<std::string, fault_rule, std::less<>> rules;
    /// Codes a transient fault answers, picked uniformly.
    std::vector<std::string> transient_codes = {"InternalError", "InternalError.ComponentError",
                                                "ResourceInUse.DiskMigrating"};
    /// Least delay added by a latency fault. Default 200 ms.
    std::chrono::milliseconds latency{200};
    /// Greatest delay added by a latency fault (>= latency). Default unset: 2 × latency.
    std::optional<std::chrono::milliseconds> latency_max;
    /// How a latency delay is drawn. Default long_tail: most close to `latency`, a few near the greatest.
    delay_shape latency_shape = delay_shape::long_tail;
    /// Greatest delay of a slow answer. Default 35 s (beyond a client's usual
    /// 30 s request timeout, so the longest slow answers are never heard).
    std::chrono::milliseconds slow_delay{35'000};
    /// Least delay of a slow answer (<= slow_delay). Default unset: slow_delay / 2.
    std::optional<std::chrono::milliseconds> slow_delay_min;
    /// How a slow delay is drawn. Default uniform.
    delay_shape slow_shape = delay_shape::uniform;
};

/// [least, greatest] delay of a latency fault under `f`.
std::pair<std::chrono::milliseconds, std::chrono::milliseconds> latency_range(const fault_params& f) noexcept;
/// [least, greatest] delay of a slow answer under `f`.
std::pair<std::chrono::milliseconds, std::chrono::milliseconds> slow_range(const fault_params& f) noexcept;
/// One delay in [lo, hi] of `shape`, drawn from `rng` (hi < lo is taken as hi = lo).
std::chrono::milliseconds draw_delay(std::mt19937_64& rng, std::chrono::milliseconds lo, std::chrono::milliseconds hi,
                                     delay_shape shape);

/// One request as the emulator saw it.
struct request_record {
    std::int64_t time_ms = 0;     ///< arrival, unix milliseconds (system clock)
    clock::time_point arrival{};  ///< arrival, steady clock (params.steady_now)
    std::string action;           ///< X-TC-Action ("" if missing)
    std::string outcome;          ///< error code, "ok", "HTTP 502" or "reset"
    std::string request_id;       ///< the RequestId answered (or that would have been)
    std::string secret_id;        ///< SecretId of the Credential ("" if unparsable)
    std::string fault;            ///< "" or transient|gateway_502|reset_before|reset_after|slow|latency
    std::int64_t delay_ms = 0;    ///< injected delay before the answer (slow and latency faults), ms
    bool throttled = false;       ///< refused by the rate limit (outcome is a RequestLimitExceeded code)
    /// The TmpSecretId handed out by an STS action or the metadata service
    /// ("" otherwise, and on errors). Never a key or token.
    std::string issued_secret_id = {};
    /// X-TC-Region as sent ("" if missing; the metadata service: "").
    std::string region = {};
};

/// One temporary credential the emulator issued (no key, no token).
struct issued_credential {
    std::string secret_id;          ///< TmpSecretId
    std::string source;             ///< "AssumeRole", "AssumeRoleWithWebIdentity" or "metadata"
    std::string role_arn;           ///< the role assumed (metadata: the configured ARN of the role, or "")
    std::string session_name;       ///< RoleSessionName (metadata: "")
    std::int64_t issued_time = 0;   ///< unix seconds, emulator clock (emulator_params::unix_time)
    std::int64_t expired_time = 0;  ///< unix seconds; expired from this second on
};

struct emulator_params {
    /// Address to listen on. Default "127.0.0.1". Port 0: an ephemeral port.
    std::string listen_address = "127.0.0.1";
    std::uint16_t port = 0;

    /// The synthetic fleet (its region is where the instances are; other
    /// valid regions answer with an empty fleet, unless in fleet_regions).
    fleet_params fleet;
    /// More regions with a fleet: the fleet described by `fleet` is built in
    /// each of these too, each region with its own state (disks, instances,
    /// groups, snapshots, quota), its ids unique across the regions. The
    /// fleet of fleet.region is seeded with fleet.seed (as with one region);
    /// another region's with a seed derived from fleet.seed and the region's
    /// name, so the same params give the same fleets. X-TC-Region picks the
    /// state a request acts on. Each must be an accepted region (`regions`);
    /// fleet.region may be listed, a region listed twice counts once.
    /// Default empty: only fleet.region has instances.
    std::vector<std::string> fleet_regions;

    /// Where the CA and server certificate are written (ca.pem, ca-key.pem,
    /// server.pem, server-key.pem; reused when present and valid), and the
    /// fleet state with persist_state. Default empty: a fresh temporary
    /// directory, removed by the destructor.
    std::string state_dir;
    /// Keep the fleet state across restarts in <state_dir>/state.json: every
    /// region's instances (and their states), disks, groups, snapshots (so
    /// the quota used) and id counters, times as unix times. Saved
    /// atomically (a temporary file, fsync, rename) from start(), after
    /// changes (at most every 200 ms, by a thread of its own) and at stop();
    /// loaded by the constructor when present, instead of building the
    /// fleet (a fleet region the file lacks is built). A group CREATING or
    /// ROLLBACKING when saved finishes by the wall time elapsed since
    /// (fleet_params::system_now). A file that is not valid JSON, not a
    /// state file or inconsistent: std::runtime_error naming the file and
    /// what is wrong (never silently rebuilt). A failed save is told to
    /// `notice`. Needs a non-empty state_dir. Default false.
    bool persist_state = false;
    /// Use these PEM files instead of generating (all three, or none).
    std::string cert_file, key_file, ca_file;

    /// Accepted keys. Default empty: one random permanent key is generated
    /// (see emulator::accounts()).
    std::vector<account> accounts;

    rate_limit_params rate_limits;
    /// Largest |server time - X-TC-Timestamp|. Default 300 s.
    std::chrono::seconds max_skew{300};
    /// Largest request body. Default 10 MiB (the TC3 POST limit).
    std::size_t max_body = 10u << 20;
    /// Regions answered; default empty: the CBS regions (see cbs_regions()).
    std::vector<std::string> regions;

    fault_params faults;

    /// JSONL request log, one flushed line per request: {"time_ms","action",
    /// "outcome","request_id","secret_id","fault","delay_ms","throttled",
    /// "issued_secret_id","region"}.
    /// Never holds a secret key.
    /// Default empty: none (the in-memory log is always kept).
    std::string log_file;
    /// Keep at most this many records in memory (oldest dropped). Default 100000.
    std::size_t max_log_records = 100'000;

    /// Idle keep-alive connections are closed after this. Default 60 s.
    std::chrono::milliseconds idle_timeout{60'000};

    /// Role ARNs AssumeRole and AssumeRoleWithWebIdentity accept, each
    /// "qcs::cam::uin/<digits>:roleName/<name>" (name [\w+=,.@-]{1,128}).
    /// Default empty: every RoleArn is ResourceNotFound.RoleNotFound.
    std::vector<std::string> roles;
    /// Lifetime of the temporary credentials issued: STS issues
    /// min(DurationSeconds, this), the metadata service exactly this.
    /// 1 s to 43200 s. Default 7200 s.
    std::chrono::seconds temp_credential_lifetime{7200};
    /// The ProviderId AssumeRoleWithWebIdentity accepts. Default empty: none
    /// (every ProviderId is InvalidParameter.ParamError).
    std::string oidc_provider_id;
    /// The WebIdentityToken AssumeRoleWithWebIdentity accepts; set exactly
    /// when oidc_provider_id is. Never logged or echoed. Default empty.
    std::string oidc_token;
    /// Serve the CVM metadata service (plain HTTP on 127.0.0.1, see
    /// metadata_endpoint()) from start(). Default false.
    bool metadata = false;
    /// Port of the metadata service. Default 0: an ephemeral port.
    std::uint16_t metadata_port = 0;
    /// Role name the metadata service serves ([\w+=,.@-]{1,128}). Default
    /// empty: no role bound (the role list answers 404).
    std::string metadata_role;

    /// Server unix time in seconds: X-TC-Timestamp checks, the expiry of
    /// temporary credentials and the Date header. Default: system clock.
    std::function<std::int64_t()> unix_time;
    /// Steady time (rate windows, fleet timing). Default: steady_clock::now.
    std::function<clock::time_point()> steady_now;

    /// Operator notices (e.g. the accept loop backing off when out of file
    /// descriptors), called on an I/O thread, once per episode. Default: none.
    std::function<void(const std::string&)> notice;
    /// Accept loop back-off after a failed accept (EMFILE, ENFILE, ENOBUFS...):
    /// the first wait, doubled after each further failure up to the greatest.
    /// Defaults 50 ms and 200 ms.
    std::chrono::milliseconds accept_backoff_min{50};
    std::chrono::milliseconds accept_backoff_max{200};
};

/// The regions the emulator accepts by default (CBS's public regions).
const std::vector<std::string>& cbs_regions();

class emulator {
public:
    /// Validates params (throws std::invalid_argument naming the field) and
    /// builds the fleet, or loads it (persist_state; std::runtime_error for a
    /// bad state file). Nothing is bound or written until start().
    emulator(const boost::asio::any_io_executor& ex, emulator_params params);
    /// Calls stop(); removes the temporary state directory if it made one.
    /// The execution context of `ex` must outlive the emulator.
    ~emulator();
    emulator(const emulator&) = delete;
    emulator& operator=(const emulator&) = delete;

    /// Creates (or loads) the PKI, opens the log, binds and starts accepting.
    /// Throws std::runtime_error / boost::system::system_error on failure.
    void start();
    /// Closes the acceptor and every connection and cancels pending delays:
    /// afterwards the emulator adds no work to the executor. With
    /// persist_state, saves the state a last time (also when never started).
    /// Idempotent.
    void stop();

    /// "https://localhost:<port>" for loopback listeners (else the address).
    std::string endpoint() const;
    std::uint16_t port() const;
    /// Path of the CA certificate clients must trust.
    std::string ca_file() const;
    std::string state_dir() const;
    /// The accepted keys (including a generated one).
    std::vector<account> accounts() const;

    /// Runs f(fleet) under the state lock (inspection and set-up in tests):
    /// the fleet of params.fleet.region.
    void inspect(const std::function<void(fleet_state&)>& f);
    /// The same for `region`'s state (an accepted region without a fleet has
    /// an empty one). Throws std::invalid_argument for a region the emulator
    /// does not accept.
    void inspect(const std::string& region, const std::function<void(fleet_state&)>& f);
    /// The regions with a fleet: fleet.region first, then fleet_regions in
    /// their order (each once).
    std::vector<std::string> fleet_regions() const;
    /// A copy of the request log.
    std::vector<request_record> request_log() const;
    void clear_request_log();
    /// Replaces the fault configuration (the RNG is reseeded with its seed).
    /// Throws std::invalid_argument for probabilities outside [0, 1] or
    /// summing (latency aside) to more than 1.
    void set_faults(fault_params faults);
    /// Replaces the rate limits (windows are kept; the refusal-code RNG is
    /// reseeded with limits.seed). Throws std::invalid_argument for a
    /// non-positive window or a throttle code outside the family.
    void set_rate_limits(rate_limit_params limits);
    /// "http://127.0.0.1:<port>" of the metadata service ("" when
    /// emulator_params::metadata is off or before start()).
    std::string metadata_endpoint() const;
    std::uint16_t metadata_port() const;
    /// Every temporary credential issued so far (STS and metadata), oldest
    /// first (those expired more than a day ago may have been forgotten).
    std::vector<issued_credential> issued_credentials() const;
    /// Every credential issued so far expires now: the next request with one
    /// answers AuthFailure.TokenFailure, and the metadata service hands out
    /// new ones on its next answer.
    void expire_issued_credentials();
    /// Open connections now (HTTPS; metadata connections not counted).
    std::size_t connection_count() const;
    /// Accepts that failed (other than at stop()) since start().
    std::uint64_t accept_failures() const;

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

}  // namespace cbs::emu
