// cbs-async: HTTP proxies (CONNECT tunnels) and the choice of one from the
// environment. Pure functions: no I/O, no clock.
//
// A proxy is given as `pool_params::proxy`, an URL `http://[user:pass@]host:port`.
// The client opens a TCP connection to the proxy, asks it with
// `CONNECT api-host:port` for a tunnel, then runs TLS to the API host inside
// it: the certificate is checked against the API host (SNI and host name),
// never against the proxy, so a proxy can relay bytes but not read or alter
// them. One CONNECT per pooled connection: a kept-alive connection keeps its
// tunnel.
//
// Never printed or logged: the password of a proxy URL. Messages name the
// proxy as `host:port` (proxy_url::host_port) or as redact_proxy_url() gives.
#pragma once

#include <cbs/credentials.hpp>  // getenv_function

#include <cstdint>
#include <string>
#include <string_view>

namespace cbs {

/// A parsed proxy URL.
struct proxy_url {
    std::string host;        ///< name or IP literal (IPv6 without brackets)
    std::uint16_t port = 0;  ///< always given in the URL
    std::string user;        ///< decoded (%XX escapes); empty: no credentials
    std::string password;    ///< decoded; never print it

    /// "host:port" ("[v6]:port"): what messages show. No credentials.
    std::string host_port() const;
    /// True when the URL carried a user (Proxy-Authorization is sent).
    bool has_credentials() const noexcept { return !user.empty(); }
};

/// Parses a proxy URL: `http://host:port`, `http://user:pass@host:port`,
/// `http://[::1]:port`, an optional trailing "/", or the same without the
/// `http://` (taken as http, as curl and Go do). The user and password may
/// be %-escaped (a ':' in the user must be, a '@' or '/' in the password
/// should be). Refused with `why` set (naming the URL as redact_proxy_url
/// shows it, never the password): `https://` proxies (TLS to the proxy
/// itself is not supported; the API session is TLS end to end through the
/// tunnel in any case), `socks*://` and other schemes, a missing or bad port
/// (no default: curl would take 1080, Go 80), an empty host, a path, query
/// or fragment, a bad %-escape, control characters in the credentials.
bool parse_proxy_url(std::string_view url, proxy_url& out, std::string& why);

/// `url` with the password replaced by "***" ("http://alice:***@host:3128");
/// unchanged when it has no credentials. Safe to print even for an URL that
/// parse_proxy_url refuses.
std::string redact_proxy_url(std::string_view url);

/// Whether a NO_PROXY list exempts `host` (a name, or an IP literal with
/// IPv6 without brackets) at `port` from the proxy. Follows curl
/// (lib/noproxy.c, 8.x), plus ports and a '*' entry anywhere as Go has them:
///  * entries are separated by commas and/or blanks; empty ones are skipped;
///  * `*` matches every host (curl: only when it is the whole list);
///  * a name matches itself and its subdomains, case-insensitively:
///    `example.com` and `.example.com` both match example.com and
///    www.example.com, never notexample.com; a trailing dot on either side
///    is ignored;
///  * an IP entry (`10.1.2.3`, `::1`, or in brackets `[::1]`) matches that
///    address, and with `/bits` (`10.0.0.0/8`, `fd00::/8`) a CIDR range; an IP
///    host is matched only against IP entries, a name only against names (no
///    DNS lookup either way);
///  * `entry:port` (`[v6]:port` for IPv6) matches only that port (curl has no
///    ports: such an entry matches nothing there);
///  * nothing is exempt implicitly: like curl (and unlike Go), localhost and
///    the loopback addresses go through the proxy unless listed.
bool no_proxy_matches(std::string_view no_proxy, std::string_view host, std::uint16_t port);

/// The proxy chosen for an endpoint, and why.
struct proxy_choice {
    std::string url;        ///< the proxy URL for pool_params::proxy; empty: direct
    std::string variable;   ///< the variable it came from ("https_proxy" or "HTTPS_PROXY"); "" when none is set
    std::string bypass_by;  ///< set when a proxy variable was set but "no_proxy" / "NO_PROXY" exempts the endpoint
};

/// The proxy that curl would use for `endpoint_url` (an https:// URL), from
/// the environment: `https_proxy`, else `HTTPS_PROXY` (lower case first, as
/// curl reads them; an empty value counts as unset), unless `no_proxy`, else
/// `NO_PROXY`, exempts the endpoint's host and port (no_proxy_matches).
/// `ALL_PROXY` and `http_proxy` are not read (the API is https only). An
/// endpoint that does not parse is not exempted (the client refuses it
/// anyway). `getenv` empty: std::getenv. The URL is returned as set, not
/// validated: pool_params::proxy is checked by the client's constructor.
proxy_choice choose_proxy_from_env(std::string_view endpoint_url, const getenv_function& getenv = {});

/// choose_proxy_from_env(...).url: the value for pool_params::proxy.
std::string proxy_from_env(std::string_view endpoint_url, const getenv_function& getenv = {});

}  // namespace cbs
