// cbs-async: error codes and diagnostics.
//
// Every failure is reported as a `cbs::error_code` (for programs: compare,
// classify, switch) plus a `cbs::diagnostics` (for people: the service's Code,
// Message and RequestId, and what the client was doing).
//
// Three sources of codes:
//  * `cbs::client_errc`  (category "cbs.client"): failures detected by the
//    client itself: invalid input, configuration, HTTP/TLS transport, bad
//    responses.
//  * `cbs::api_errc`     (category "cbs.api"): an error answered by the service
//    in the API 3.0 envelope. Known codes have their own value; an unknown code
//    is `api_errc::unrecognized` and its text is in `diagnostics::server_code`.
//  * Boost.Asio / OpenSSL codes for network failures, passed through unchanged.
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace cbs {

using error_code = boost::system::error_code;

/// Errors found by the client, not answered by the service.
enum class client_errc {
    invalid_request = 1,  ///< request failed validation; nothing was sent
    invalid_config,       ///< bad client_params (endpoint, region, timeouts, ...)
    credentials_missing,  ///< no credentials found in any configured source
    credentials_invalid,  ///< a credential source is unreadable or malformed
    resolve_timeout,      ///< DNS resolution exceeded its timeout
    connect_timeout,      ///< TCP connect exceeded its timeout
    handshake_timeout,    ///< TLS handshake exceeded its timeout
    request_timeout,      ///< writing the request or reading the response timed out
    connection_closed,    ///< the peer closed the connection before a complete response
    http_status,          ///< a non-200 HTTP status (a gateway, not the API)
    bad_response,         ///< the body is not a valid API 3.0 JSON envelope
    response_too_large,   ///< the response exceeded the configured body limit
    plain_http_refused,   ///< an http:// endpoint without allow_plain_http
    cancelled,            ///< the operation was cancelled by the caller
    outcome_unknown,      ///< a non-idempotent request was sent but no answer came
    pool_exhausted,       ///< no connection became available in time
    deadline_exceeded,    ///< the call's deadline passed (waiting for the limiter or before a retry)
    http_throttled,       ///< HTTP 429 from a gateway: refused before the API acted; retried as a throttle
    http_rejected,        ///< another HTTP 4xx (e.g. 403 from a proxy or WAF): not retried
    journal_failed,       ///< the fleet journal could not be written or synced
    run_in_progress,      ///< another process holds the run's journal lock
    proxy_rejected,       ///< the proxy refused the CONNECT tunnel (407/401, 403, another 4xx): not retried
    proxy_failed,         ///< the proxy could not open the tunnel (5xx, closed, garbled): retried like a connect
};

const boost::system::error_category& client_category() noexcept;

inline error_code make_error_code(client_errc e) noexcept {
    return {static_cast<int>(e), client_category()};
}

/// Error codes answered by the service (API 3.0 common codes and the CBS
/// codes of the snapshot-group family). The string form is the wire form.
enum class api_errc {
    unrecognized = 1,  ///< a code this library does not know; see diagnostics
#define CBS_API_ERROR(name, text) name,
#include <cbs/detail/api_error_codes.inc>
#undef CBS_API_ERROR
};

const boost::system::error_category& api_category() noexcept;

inline error_code make_error_code(api_errc e) noexcept {
    return {static_cast<int>(e), api_category()};
}

/// Maps a service code ("InvalidDisk.SnapshotCreating") to its error_code;
/// unknown codes give api_errc::unrecognized.
error_code api_error_from_string(std::string_view code) noexcept;

/// The wire text of a known api_errc ("" for unrecognized).
std::string_view to_string(api_errc e) noexcept;

/// What a person needs to understand a failure. Never contains secrets.
struct diagnostics {
    std::string server_code;               ///< Response.Error.Code, verbatim (empty if none)
    std::string server_message;            ///< Response.Error.Message, verbatim
    std::string request_id;                ///< RequestId of the last attempt that got one
    std::string client_message;            ///< what the client was doing / saw (no secrets)
    std::vector<std::string> request_ids;  ///< RequestId of every answered attempt
    unsigned attempts = 0;                 ///< attempts made (0: nothing was sent)

    void clear() { *this = diagnostics{}; }

    /// One line: "InvalidDisk.SnapshotCreating: <message> (RequestId ...)".
    std::string to_string(const error_code& ec) const;
};

/// Exception thrown by the throwing form of the async operations.
class error : public boost::system::system_error {
public:
    error(error_code ec, diagnostics diag);
    const diagnostics& diag() const noexcept { return diag_; }

private:
    diagnostics diag_;
};

}  // namespace cbs

namespace boost::system {
template <>
struct is_error_code_enum<cbs::client_errc> : std::true_type {};
template <>
struct is_error_code_enum<cbs::api_errc> : std::true_type {};
}  // namespace boost::system
