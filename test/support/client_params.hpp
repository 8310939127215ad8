// Test helper: client parameters for talking to a scripted server.
#pragma once

#include "support/pki.hpp"
#include "support/scripted_server.hpp"

#include <cbs/client.hpp>

#include <chrono>

namespace cbs::test {

/// A client of `server` trusting the test CA, with the default retry classes
/// and attempt limits but millisecond backoffs (no timing is asserted), a
/// 2 s request timeout and a fixed jitter seed. Rate limiting stays on.
inline client_params fast_client_params(const scripted_server& server) {
    using namespace std::chrono_literals;
    client_params p;
    p.endpoint = server.endpoint();
    p.creds = {"AKIDTESTCLIENT", "test-secret-key", "", "explicit"};
    p.pool.ca_file = default_pki().write_ca_file();
    p.request_timeout = 2s;
    p.retry.throttle_base = p.retry.transient_base = p.retry.network_base = p.retry.busy_base = 1ms;
    p.retry.throttle_cap = p.retry.transient_cap = p.retry.network_cap = p.retry.busy_cap = 5ms;
    p.jitter_seed = 42;
    return p;
}

}  // namespace cbs::test
