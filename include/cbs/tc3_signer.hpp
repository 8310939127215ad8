// cbs-async: TC3-HMAC-SHA256 request signing (Tencent Cloud API 3.0).
//
// Pure computation, no I/O. The algorithm is Tencent Cloud's "Signature v3",
// as its API documentation and official SDKs compute it; the unit tests check
// it against the published examples in test/data/tc3_vectors.json:
//
//   CanonicalRequest = Method \n CanonicalURI \n CanonicalQuery \n
//                      CanonicalHeaders \n SignedHeaders \n hex(SHA256(payload))
//   StringToSign     = "TC3-HMAC-SHA256" \n Timestamp \n Date/service/tc3_request \n
//                      hex(SHA256(CanonicalRequest))
//   kDate = HMAC("TC3"+SecretKey, Date), kService = HMAC(kDate, service),
//   kSigning = HMAC(kService, "tc3_request"),
//   Signature = hex(HMAC(kSigning, StringToSign))
//
// The derived key kSigning is cached per (secret key, date, service), so a
// steady stream of requests costs one HMAC and two SHA-256 per request.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace cbs {

/// An extra header to include in the signature (besides content-type and
/// host, which are always signed). The name may be in any case; it is
/// lower-cased in the canonical form, and the value is trimmed (spaces and
/// tabs) and lower-cased. Example: {"X-TC-Action", "DescribeInstances"}
/// is signed as "x-tc-action:describeinstances".
struct tc3_header {
    std::string_view name;
    std::string_view value;
};

/// Everything the signature depends on. All views must stay valid for the
/// duration of the signing call only; nothing is retained except the cached
/// derived key (see tc3_signer).
struct tc3_request {
    std::string_view secret_id;        ///< SecretId (appears in the Authorization header)
    std::string_view secret_key;       ///< SecretKey (never copied into outputs or errors)
    std::string_view service = "cbs";  ///< credential-scope service (first DNS label of the host)
    std::string_view host;             ///< Host header value exactly as sent
    std::string_view content_type = "application/json; charset=utf-8";  ///< Content-Type as sent
    std::string_view payload;                                           ///< exact body bytes (GET: empty)
    std::int64_t timestamp = 0;             ///< X-TC-Timestamp, unix seconds; the scope date is its UTC date
    std::string_view method = "POST";       ///< HTTP method, upper case as sent
    std::string_view canonical_uri = "/";   ///< always "/" for API 3.0
    std::string_view canonical_query = "";  ///< query string exactly as sent (POST: empty)
    /// Extra headers to sign, e.g. {"X-TC-Action","DescribeInstances"}. Must
    /// not repeat a name (case-insensitively), including content-type/host.
    std::span<const tc3_header> extra_signed_headers = {};
};

/// Intermediate values of one signing, filled only when a trace is passed
/// (tests, --verbose, emulator diagnostics). The secret_*_hex fields are
/// derived keys (kSigning can sign any request of that day and service):
/// treat them as secrets and do not log them.
struct tc3_trace {
    std::string hashed_payload;            ///< hex(SHA256(payload))
    std::string canonical_request;         ///< the full canonical request
    std::string hashed_canonical_request;  ///< hex(SHA256(canonical_request))
    std::string date;                      ///< "YYYY-MM-DD" (UTC date of timestamp)
    std::string credential_scope;          ///< date/service/tc3_request
    std::string string_to_sign;            ///< the string to sign
    std::string signed_headers;            ///< e.g. "content-type;host;x-tc-action"
    std::string signature;                 ///< lowercase hex signature
    std::string secret_date_hex;           ///< hex(kDate)     — secret-derived, don't log
    std::string secret_service_hex;        ///< hex(kService)  — secret-derived, don't log
    std::string secret_signing_hex;        ///< hex(kSigning)  — secret-derived, don't log
};

/// Computes TC3-HMAC-SHA256 signatures.
///
/// Thread-safety: NOT thread-safe; an object holds a derived-key cache and
/// reusable buffers. Use one signer per client / strand. Distinct objects are
/// independent.
///
/// Errors: the constructor throws std::runtime_error if OpenSSL cannot
/// provide SHA256 or HMAC. The signing functions throw std::invalid_argument
/// for an empty or duplicated signed-header name, and std::runtime_error if an
/// OpenSSL primitive fails (not expected in practice). No exception message
/// contains the secret key.
///
/// Secrets: the cached copy of the secret key and the derived key are wiped
/// with OPENSSL_cleanse when replaced and on destruction.
class tc3_signer {
public:
    /// Fetches the OpenSSL SHA256 digest and HMAC MAC implementations once.
    tc3_signer();
    ~tc3_signer();
    /// A moved-from signer may be assigned to, destroyed, or used again (it
    /// then lazily re-creates its OpenSSL state).
    tc3_signer(tc3_signer&&) noexcept;
    tc3_signer& operator=(tc3_signer&&) noexcept;
    tc3_signer(const tc3_signer&) = delete;
    tc3_signer& operator=(const tc3_signer&) = delete;

    /// The full Authorization header value:
    /// "TC3-HMAC-SHA256 Credential=<id>/<scope>, SignedHeaders=<h>, Signature=<sig>".
    /// Fills *trace when non-null (slower: re-derives the key chain).
    std::string authorization(const tc3_request& req, tc3_trace* trace = nullptr);

    /// Only the lowercase hex signature (64 chars); used by the emulator to
    /// verify a request (compare with detail::constant_time_equal).
    std::string signature(const tc3_request& req, tc3_trace* trace = nullptr);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
    impl& state();
};

namespace detail {

/// Lowercase hex of SHA-256(data). Thread-safe. Throws std::runtime_error
/// only if OpenSSL fails.
std::string sha256_hex(std::string_view data);

/// "YYYY-MM-DD", the UTC date of a unix time (civil-from-days arithmetic;
/// thread-safe, no gmtime, no locale). Works for negative times too.
std::string utc_date(std::int64_t unix_seconds);

/// Constant-time comparison of equal-length strings (the length itself is
/// not hidden). Thread-safe.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace detail
}  // namespace cbs
