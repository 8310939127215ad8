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
};

}  // namespace cbs
