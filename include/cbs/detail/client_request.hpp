// The pure parts of one call attempt, apart from the client's I/O loop:
// checking a call's input, building the request bytes, and turning an
// exchange into the attempt's outcome. Internal (src/net/client_request.cpp).
#pragma once

#include <cbs/client.hpp>
#include <cbs/endpoint.hpp>
#include <cbs/tc3_signer.hpp>

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace cbs::detail {

struct exchange_result;

/// The request of one attempt as the bytes that go on the wire (request
/// line, headers, blank line, body), signed at `ts` with `c`, or unsigned
/// (`Authorization: SKIP`, no token) when `c` is null. One contiguous
/// string, so a keep-alive exchange is one TLS record and one write.
std::string build_request(const client_params& p, std::string_view host, std::string_view action,
                          std::string_view payload, std::int64_t ts, tc3_signer& signer, const credentials* c);

/// client_errc::invalid_request (diag says why) for a negative per-call
/// duration, an action that is not a name, a body over max_request_body.
error_code check_call_input(const client_params& p, std::string_view action, std::string_view payload,
                            const call_options& opts, diagnostics& diag);

/// One exchange to the attempt's outcome in `out` (ec, value, diag): the
/// transport error, the HTTP status class of a non-200, or the envelope's
/// answer. No retry decision here.
void conclude_exchange(const exchange_result& r, const endpoint& ep, std::string_view action,
                       result<boost::json::object>& out);

}  // namespace cbs::detail
