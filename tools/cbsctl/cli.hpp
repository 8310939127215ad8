// cbsctl: shared command-line plumbing. Every subcommand is a CLI11
// subcommand: add_*_command() registers its options on the root app and
// returns what runs once parsing succeeded. The heavy CLI11 header is only
// included by the .cpp files.
#pragma once

#include <cbs/client.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace cbsctl {

/// Exit statuses shared by every subcommand.
enum exit_status : int { exit_ok = 0, exit_failed = 1, exit_usage = 2, exit_interrupted = 130 };

/// A usage or configuration error found after parsing: printed as
/// "cbsctl: <message>", exit 2.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// A client of `params` on `ex`; a bad setting (cbs::error from the
/// client's constructor) becomes a usage_error naming it.
cbs::client make_client(boost::asio::any_io_executor ex, cbs::client_params params);

/// What a subcommand runs once its options are parsed and validated.
using command_runner = std::function<int()>;

command_runner add_call_command(CLI::App& root);
command_runner add_snapshot_fleet_command(CLI::App& root);
command_runner add_demo_command(CLI::App& root);
command_runner add_emulator_command(CLI::App& root);
command_runner add_groups_command(CLI::App& root);
command_runner add_prune_command(CLI::App& root);
command_runner add_restore_command(CLI::App& root);
command_runner add_report_command(CLI::App& root);

/// "cbsctl 0.x.y (commit abc1234), Boost 1.81, OpenSSL 3.0.x".
std::string version_text();

/// Options shared by every command that talks to the service.
struct connection_options {
    std::string region;                         ///< default $CBS_REGION, else $TENCENTCLOUD_REGION, else ap-guangzhou
    std::string endpoint;                       ///< default $CBS_ENDPOINT, else https://cbs.tencentcloudapi.com
    std::string ca_file;                        ///< default $CBS_CA_FILE
    std::string profile;                        ///< credentials profile
    std::string role_arn;                       ///< --role-arn: assume this role with the credentials found
    std::string role_session_name;              ///< --role-session-name (default cbs-async)
    std::string proxy;                          ///< --proxy URL: wins over $https_proxy / $HTTPS_PROXY / NO_PROXY
    bool no_proxy = false;                      ///< --no-proxy: direct, whatever the environment says
    bool intl = false;                          ///< --intl: https://cbs.intl.tencentcloudapi.com
    bool regional = false;                      ///< --regional: https://cbs.<region>.tencentcloudapi.com
    bool endpoint_given = false;                ///< --endpoint given: it wins over --intl / --regional
    bool region_given = false;                  ///< --region given (exclusive with --regions)
    std::chrono::milliseconds timeout{30'000};  ///< --timeout: one request/response exchange
    std::string limiter;                        ///< --limiter redis://...: default $CBS_LIMITER, else local
    unsigned limiter_processes = 0;             ///< --limiter-processes (0: --shard's N, else 2)
    bool verbose = false;
    connection_options();  ///< fills the defaults from the environment
};

/// Registers the connection options (--region, --endpoint, --intl,
/// --regional, --proxy, --no-proxy, --ca-file, --profile, --role-arn,
/// --role-session-name, --timeout, --limiter, --limiter-processes, --verbose) on `cmd`, bound to `o`, in an
/// option group "Connection" so every command's --help lists them alike.
void add_connection_options(CLI::App& cmd, connection_options& o);

/// Resolves credentials (exit 2 on failure, warning on a loose credentials
/// file) and builds the client parameters. Long-lived keys (environment,
/// profile) are used as they are; a role (--role-arn, a profile's role_arn)
/// or no keys at all means the default credential chain (STS AssumeRole, TKE
/// OIDC, the CVM role), fetched on the first call. `region` overrides
/// o.region when not empty (multi-region commands).
cbs::client_params make_client_params(const connection_options& o, const std::string& region = {});

/// Longest duration parse_duration returns: larger values are clamped to it
/// (30 days: "forever" for a CLI run, far from any clock overflow).
inline constexpr std::chrono::milliseconds max_duration = std::chrono::hours(24 * 30);

/// Parses a duration: a whole number with a unit, `500ms`, `90s`, `10m`,
/// `1h`, `7d`, or a bare number of seconds. Zero (unless allow_zero),
/// negative, empty, a fraction or an unknown unit throw usage_error naming
/// `option` and the text; values above max_duration are clamped (unless
/// `unclamped`, for ages like --older-than 400d).
std::chrono::milliseconds parse_duration(std::string_view text, std::string_view option, bool allow_zero = false,
                                         bool unclamped = false);
/// The duration syntax, for help texts.
inline constexpr const char* duration_syntax = "500ms, 90s, 10m, 1h, 7d (a bare number is seconds)";

/// Parses a rate: requests per second as a positive decimal, optionally with
/// a unit, `20`, `2.5`, `20/s`, `600/m`, `3600/h`. Throws usage_error naming
/// `option` and the text.
double parse_rate(std::string_view text, std::string_view option);
inline constexpr const char* rate_syntax = "20, 2.5, 20/s, 600/m or 3600/h (requests per second unless a unit)";

/// Adds a duration option bound to `target` (its value is the default shown
/// in help). Bad values are usage errors naming the option.
CLI::Option* add_duration_option(CLI::App& cmd, const std::string& name, std::chrono::milliseconds& target,
                                 const std::string& description, bool allow_zero = false);
/// The same for an optional duration (no default).
CLI::Option* add_duration_option(CLI::App& cmd, const std::string& name,
                                 std::optional<std::chrono::milliseconds>& target, const std::string& description,
                                 bool allow_zero = false, bool unclamped = false);

/// "1h30m" style rendering of a duration for help and plans.
std::string format_duration(std::chrono::milliseconds d);

/// How listing commands print.
enum class output_format { table, json, text };
/// Adds --output table|json|text bound to `target`, whose default is table
/// when standard output is a terminal and json otherwise (as aws-cli does).
CLI::Option* add_output_option(CLI::App& cmd, output_format& target);

/// Parses KEY=VALUE (both non-empty keys; value may be empty) or throws
/// usage_error naming the option.
std::pair<std::string, std::string> parse_key_value(std::string_view text, std::string_view option);

/// Ids separated by commas or white space; '#' starts a comment to the end of
/// the line.
std::vector<std::string> split_ids(const std::string& text);

/// Makes `opt` refuse an empty value with `message` (a usage error).
CLI::Option* non_empty(CLI::Option* opt, const std::string& message);

/// A fresh run id: UTC time and 24 random bits ("20261203T101500-1a2b3c"
/// style), so two runs started in the same second differ.
std::string default_run_id();

/// Asks "question [y/N]" on the terminal when standard input is one; false
/// when it is not (the caller then demands --yes).
bool confirm(const std::string& question);

}  // namespace cbsctl
