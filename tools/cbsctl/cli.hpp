// cbsctl: shared command-line plumbing.
#pragma once

#include <cbs/client.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cbsctl {

/// Exit statuses shared by every subcommand.
enum exit_status : int { exit_ok = 0, exit_failed = 1, exit_usage = 2 };

/// A usage or configuration error: printed as "cbsctl: <message>", exit 2.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Walks argv: flags of the form --name VALUE or --name=VALUE.
class args {
public:
    args(std::vector<std::string> argv) : argv_(std::move(argv)) {}
    bool done() const { return pos_ >= argv_.size(); }
    /// The next raw token.
    const std::string& peek() const { return argv_[pos_]; }
    std::string next() { return argv_[pos_++]; }
    /// If the next token is --name or --name=v, consumes it and returns the value
    /// (taking the following token for the --name form).
    std::optional<std::string> value(std::string_view name);
    /// If the next token is the flag --name, consumes it.
    bool flag(std::string_view name);

private:
    std::vector<std::string> argv_;
    std::size_t pos_ = 0;
};

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
    std::chrono::milliseconds timeout{30'000};  ///< --timeout: one request/response exchange
    bool verbose = false;
    connection_options();  ///< fills the defaults from the environment
    /// Consumes one of the shared options if it is next; false otherwise.
    bool parse(args& a);
};

/// Resolves credentials (exit 2 on failure, warning on a loose credentials
/// file) and builds the client parameters. Long-lived keys (environment,
/// profile) are used as they are; a role (--role-arn, a profile's role_arn)
/// or no keys at all means the default credential chain (STS AssumeRole, TKE
/// OIDC, the CVM role), fetched on the first call.
cbs::client_params make_client_params(const connection_options& o);

inline constexpr const char* connection_usage =
    "  --region     X-TC-Region (default $CBS_REGION, else $TENCENTCLOUD_REGION, else ap-guangzhou)\n"
    "  --endpoint   https://host[:port] (default $CBS_ENDPOINT, else https://cbs.tencentcloudapi.com);\n"
    "               wins over --intl and --regional\n"
    "  --intl       the international site's domain, https://cbs.intl.tencentcloudapi.com\n"
    "  --regional   the region's own domain, https://cbs.<region>.tencentcloudapi.com\n"
    "  --proxy      http://[user:pass@]host:port: tunnel through this HTTP proxy (CONNECT); default\n"
    "               $https_proxy, else $HTTPS_PROXY, unless $no_proxy / $NO_PROXY lists the endpoint's host\n"
    "  --no-proxy   connect directly, whatever the environment says\n"
    "  --ca-file    PEM CA bundle to trust (default $CBS_CA_FILE, else the system store)\n"
    "  --profile    profile of ~/.tencentcloud/credentials (wins over TENCENTCLOUD_SECRET_ID/_KEY)\n"
    "  --role-arn   assume this role (STS AssumeRole, $CBS_STS_ENDPOINT) with the credentials found\n"
    "  --role-session-name  RoleSessionName of the assumed role (default cbs-async)\n"
    "               with no keys anywhere: TKE OIDC (TKE_* variables), then the CVM instance role\n"
    "               (metadata service, $CBS_METADATA_ENDPOINT)\n"
    "  --timeout    one request/response exchange, e.g. 500ms, 30s, 2m (default 30s; a bare number is seconds)\n"
    "  --verbose    more detail on stderr\n";

int run_call(args& a);
void print_call_usage(std::ostream& os);
int run_snapshot_fleet(args& a);
void print_snapshot_fleet_usage(std::ostream& os);
int run_demo(args& a);
void print_demo_usage(std::ostream& os);
int run_emulator(args& a);
void print_emulator_usage(std::ostream& os);

/// Parses a non-negative number for --name, or throws usage_error naming it.
long long parse_number(std::string_view name, const std::string& text);

/// Longest duration parse_duration returns: larger values are clamped to it
/// (30 days: "forever" for a CLI run, far from any clock overflow).
inline constexpr std::chrono::milliseconds max_duration = std::chrono::hours(24 * 30);

/// Parses a duration option: a whole number with a unit, `500ms`, `90s`,
/// `10m`, `1h`, or a bare number of seconds. Zero, negative, empty, a
/// fraction or an unknown unit throw usage_error naming `option` and the
/// text; values above max_duration (any number of digits) are clamped.
std::chrono::milliseconds parse_duration(std::string_view text, std::string_view option);

}  // namespace cbsctl
