// cbs-async emulator: TC3-HMAC-SHA256 verification, as the service does it.
//
// Pure: no I/O, no clock (the caller passes the time), no state except the
// signer passed in (its derived-key cache). Fuzzable: any input gives an
// outcome, never an exception other than std::bad_alloc.
//
// What is checked, in this order (the first failure wins):
//   1. Authorization present and shaped "TC3-HMAC-SHA256 Credential=ID/DATE/
//      SERVICE/tc3_request, SignedHeaders=h1;h2, Signature=<64 hex>"
//      (each part exactly once, any order, spaces after commas optional);
//      SignedHeaders lower case, sorted, no duplicates, including content-type
//      and host; every signed header present in the request; DATE a
//      YYYY-MM-DD       -> AuthFailure.InvalidAuthorization
//   2. SERVICE is the expected service (auth_input::service: "cbs", or
//      "sts" for the STS actions)
//                       -> AuthFailure.InvalidAuthorization ("`Service` in Credential not valid")
//   3. |now - X-TC-Timestamp| <= max_skew         -> AuthFailure.SignatureExpire
//   4. the SecretId is a known account            -> AuthFailure.SecretIdNotFound
//   5. DATE is the UTC date of X-TC-Timestamp, and the signature recomputed
//      over the signed headers (values as sent; the canonical host is the Host
//      header the client sent), the method, path, query and body matches
//                       -> AuthFailure.SignatureFailure
//   6. temporary credentials: X-TC-Token equals the account's token; a
//      permanent key must not send one          -> AuthFailure.TokenFailure
// The caller checks X-TC-Timestamp's presence and syntax first
// (MissingParameter / InvalidParameterValue).
#pragma once

#include <cbs/emulator/fleet_state.hpp>  // api_failure
#include <cbs/tc3_signer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cbs::emu {

/// An API key the emulator accepts. A non-empty token makes it temporary
/// credentials: requests must then carry X-TC-Token with that value.
struct account {
    std::string secret_id;
    std::string secret_key;
    std::string token;
    /// The main account (UIN) the key belongs to. Keys with the same uin share
    /// rate windows when rate_limit_params::scope is rate_scope::account.
    /// Default empty: the key is an account of its own.
    std::string uin = {};
};

/// Parses a list of keys: entries separated by commas or newlines, each
/// `[UIN/]SECRET_ID:SECRET_KEY[:TOKEN]`; blank lines and lines starting with
/// '#' are skipped, spaces around an entry ignored. Throws
/// std::invalid_argument naming the entry (by number and SecretId, never the
/// key) when one is malformed or a SecretId repeats.
std::vector<account> parse_accounts(std::string_view text);

/// One request header as received (name in any case).
struct http_header {
    std::string_view name;
    std::string_view value;
};

/// The parts of an Authorization header.
struct parsed_authorization {
    std::string algorithm;  ///< "TC3-HMAC-SHA256"
    std::string secret_id;
    std::string date;                         ///< YYYY-MM-DD from the credential scope
    std::string service;                      ///< "cbs"
    std::string terminator;                   ///< "tc3_request"
    std::vector<std::string> signed_headers;  ///< as listed (lower case, sorted)
    std::string signature;                    ///< 64 lowercase hex
};

/// Parses an Authorization value. Returns nullopt and sets `why` (for the
/// error message: never contains the signature) when malformed.
std::optional<parsed_authorization> parse_authorization(std::string_view value, std::string& why);

/// Everything the verification looks at. Views must outlive the call.
struct auth_input {
    std::string_view method;  ///< "POST" / "GET", as sent
    std::string_view target;  ///< request target, "/" or "/?query"
    std::span<const http_header> headers;
    std::string_view body;
    std::int64_t timestamp = 0;       ///< parsed X-TC-Timestamp
    std::string_view timestamp_text;  ///< X-TC-Timestamp as sent
    std::int64_t now = 0;             ///< server unix time, seconds
    std::chrono::seconds max_skew{300};
    std::string_view service = "cbs";  ///< the credential scope's expected service
};

struct auth_outcome {
    std::optional<api_failure> error;  ///< nullopt: verified
    std::string secret_id;             ///< the Credential's SecretId when it could be parsed
};

/// Verifies a request (see the file comment for the checks and codes).
auth_outcome verify_tc3(const auth_input& in, std::span<const account> accounts, tc3_signer& signer);

/// Finds the key of a SecretId (nullptr: unknown). The pointer must stay
/// valid for the verify_tc3 call.
using account_lookup = std::function<const account*(std::string_view secret_id)>;
/// The same, with the keys found by `find` (e.g. configured keys and issued
/// temporary credentials).
auth_outcome verify_tc3_with(const auth_input& in, const account_lookup& find, tc3_signer& signer);

/// First header named `name` (case-insensitive), or nullopt.
std::optional<std::string_view> find_header(std::span<const http_header> headers, std::string_view name) noexcept;

}  // namespace cbs::emu
