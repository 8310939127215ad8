// cbs-async: connection pool and transport parameters.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace cbs {

/// How the client opens, keeps and reuses its HTTPS connections to one
/// endpoint. All durations must be positive.
struct pool_params {
    /// Upper bound on open connections (idle + in use + connecting).
    /// Default 16: at 20 requests/s and ~0.3 s latency, 6 are busy on average
    /// (Little's law); the rest absorbs latency spikes.
    std::size_t max_size = 16;

    /// An idle connection older than this is closed instead of reused.
    /// Default 30 s, shorter than common server keep-alive timeouts (60 s),
    /// so the client rarely races a server-side close.
    std::chrono::milliseconds idle_timeout{30'000};

    /// How long a call may wait for a free connection when `max_size` are in
    /// use. Default 60 s. Exceeded: `client_errc::pool_exhausted`.
    std::chrono::milliseconds wait_timeout{60'000};

    /// DNS resolution timeout. Default 10 s. Holds even when the system
    /// resolver stalls (getaddrinfo cannot be cancelled): the attempt fails
    /// with client_errc::resolve_timeout on time, and cancelling the call ends
    /// the wait at once, while the lookup finishes on a background thread
    /// that nothing waits for (one thread per name being looked up).
    std::chrono::milliseconds resolve_timeout{10'000};

    /// TCP connect timeout (all resolved addresses together). Default 10 s.
    std::chrono::milliseconds connect_timeout{10'000};

    /// TLS handshake timeout. Default 10 s.
    std::chrono::milliseconds handshake_timeout{10'000};

    /// Largest response body accepted. Default 16 MiB (the service caps JSON
    /// responses at 50 MB; CBS answers are far smaller). Exceeded:
    /// `client_errc::response_too_large`, connection discarded.
    std::size_t max_response_body = 16u << 20;

    /// PEM file of CA certificates to trust instead of the system store.
    /// Default empty: the system store (`/etc/ssl/certs`).
    std::string ca_file;

    /// Verify the server certificate chain and host name. Default true.
    /// Turning this off is for diagnosing a broken set-up only.
    bool verify_peer = true;

    /// HTTP proxy, `http://[user:password@]host:port` (see proxy.hpp; the
    /// user and password %-escaped). Default empty: connect directly.
    /// Each new connection is a TCP connection to the proxy (resolve_timeout
    /// and connect_timeout apply to the proxy's address), a `CONNECT
    /// api-host:port` whose answer must come within connect_timeout, then the
    /// TLS handshake with the API host inside the tunnel (SNI and certificate
    /// checked against the API host, not the proxy). A pooled connection
    /// keeps its tunnel. The API host is resolved by the proxy, not here.
    /// Checked by the client's constructor: client_errc::invalid_config for a
    /// malformed URL and for `https://` proxies (TLS to the proxy is not
    /// supported), naming the URL without its password.
    /// Errors per connection: client_errc::proxy_rejected (407 or 401: the
    /// credentials are missing or wrong; 403 or another 4xx; not retried),
    /// client_errc::proxy_failed (5xx: the proxy could not reach the API
    /// host; closed or garbled answer; retried like a failed connect), the
    /// connect errors of the proxy's address (refused, unreachable,
    /// client_errc::connect_timeout: retried); each message names the proxy
    /// as host:port, never its password. `proxy_from_env()` (proxy.hpp)
    /// gives the value curl would use from HTTPS_PROXY and NO_PROXY.
    std::string proxy;
};

}  // namespace cbs
