// cbs-async: one rate limit shared by several processes through Redis.
//
// The service's limits hold per account and action (20 CreateSnapshotGroup a
// second), not per process. Clients in several processes or on several hosts
// that name one Redis share each action's limit there: one GCRA state per
// (account, region, action), updated by one Lua script on the server's clock,
// so the hosts' clocks need not agree. Each process keeps its FIFO order and
// deadlines; a throttle answer seen by one process slows all of them.
//
// If Redis cannot be reached, each process paces itself at a safe fraction of
// the rate (the fallback) until Redis answers again, and says so (on_notice,
// client_stats). docs/reliability.md, "Sharing the limit", has the arithmetic.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace cbs {

/// Parameters of the shared limiter (client_params::shared_limiter).
struct shared_limiter_params {
    /// Where the limit lives: "redis://[user:password@]host:port[/prefix]".
    /// Default empty: each client paces itself (the local limiter). The
    /// prefix (default "cbs-limit") starts every key, so unrelated users of
    /// one Redis stay apart. "rediss://" (TLS) is refused: the hiredis of
    /// Debian 12 (0.14) has no TLS; use a loopback Redis or a TLS tunnel.
    std::string url;

    /// How many processes are expected to share the limit at most. Sets the
    /// fallback pace: each process alone may use rate / expected_processes,
    /// rounded down to whole sends per second (so that N fallbacks together
    /// stay under the limit in every second). Default 2.
    unsigned expected_processes = 2;

    /// The account part of every key. Default empty: a fingerprint of the
    /// client's static SecretId (the first 16 hex digits of its SHA-256, as in the fleet journal), or
    /// "default" with a credentials provider (whose keys rotate). Set it when
    /// processes use different keys of one account.
    std::string account;

    /// The region part of every key. Default empty: the client's region; for
    /// a group made by make_rate_limit_group, "all" (one limit across the
    /// regions, as the account's limit is).
    std::string region;

    /// How far ahead a process may reserve a slot. A larger value saves round
    /// trips; every slot reserved is also a slot the other processes must
    /// assume in use when Redis is lost. Default 250 ms.
    std::chrono::milliseconds reserve_ahead{250};

    /// A script call must answer within this, or Redis counts as lost.
    /// Default 250 ms.
    std::chrono::milliseconds command_timeout{250};

    /// Connecting (resolve, connect, AUTH) must finish within this. The first
    /// acquisitions wait for the first connection up to this long before
    /// falling back. Default 1 s.
    std::chrono::milliseconds connect_timeout{1000};

    /// Reconnect delays: from 50 ms doubling up to this. Default 1 s.
    std::chrono::milliseconds reconnect_max{1000};

    /// After this long with no acquisition, the link to Redis is closed (and
    /// reconnecting stops), so an io_context with nothing else to do runs
    /// out; the next acquisition opens it again. Default 1 s.
    std::chrono::milliseconds idle_close{1000};

    /// Called (on the client's executor) when the limiter falls back to the
    /// local pace or comes back to the shared one; the text names the Redis
    /// host:port and the cause, never the password. Default none.
    std::function<void(const std::string&)> on_notice;
};

/// A parsed limiter URL.
struct limiter_url {
    std::string host;
    std::uint16_t port = 6379;
    std::string user;
    std::string password;  ///< never printed: see redacted()
    std::string prefix = "cbs-limit";

    /// The URL with the password replaced by "***".
    std::string redacted() const;
};

/// Parses "redis://[user:password@]host[:port][/prefix]" (also "[::1]" for
/// IPv6). Returns the parsed URL, or nullopt with `error` naming what is
/// wrong (never quoting the password): another scheme, "rediss://" (no TLS
/// in this build), an empty host, a bad port, a prefix with spaces.
std::optional<limiter_url> parse_limiter_url(std::string_view url, std::string& error);

}  // namespace cbs
