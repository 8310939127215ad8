// cbs-async: Tencent Cloud credentials and where to find them.
//
// Resolution order (first source that has credentials wins):
//   1. credentials_options::explicit_credentials
//   2. a profile named in credentials_options::profile: that profile of the
//      credentials file, and nothing else (like aws-cli and tccli, a named
//      profile beats the environment; not finding it is an error)
//   3. environment: TENCENTCLOUD_SECRET_ID + TENCENTCLOUD_SECRET_KEY
//      (+ TENCENTCLOUD_SESSION_TOKEN for temporary credentials)
//   4. the "default" profile of the credentials file (INI):
//      credentials_options::credentials_file, else
//      $TENCENTCLOUD_CREDENTIALS_FILE, else $HOME/.tencentcloud/credentials
// credentials::source says which one was used.
//
// These are the long-lived sources only (read synchronously). Role
// credentials (CVM instance role, STS AssumeRole, TKE OIDC) and the default
// chain that includes them are credential providers: see
// credential_provider.hpp. A profile may name a role (role_arn, with its own
// keys or a source_profile's): resolve_credentials refuses it (its keys are
// what signs the AssumeRole call, not the CBS calls), the default chain
// assumes the role.
//
// The secret key never appears in an error message, exception, diagnostics
// or redacted() string. The SecretId may.
#pragma once

#include <cbs/error.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace cbs {

/// A SecretId / SecretKey pair, with a session token for temporary
/// credentials (STS, CVM role). Plain value type; copies hold the secret too.
struct credentials {
    std::string secret_id;   ///< SecretId (AKID...); safe to show
    std::string secret_key;  ///< SecretKey; never log it
    std::string token;       ///< non-empty = temporary credentials: sent as X-TC-Token, not signed
    /// Where these came from, for logs: "explicit", "environment", or
    /// `profile "default" in /path/credentials`. Set by resolve_credentials /
    /// parse_credentials_file; not used for signing.
    std::string source;
    /// When the service stops accepting them (temporary credentials: the
    /// ExpiredTime of the metadata service or STS, in the service's clock).
    /// Default none: long-lived, never refreshed for age.
    std::optional<std::chrono::system_clock::time_point> expires = std::nullopt;

    /// True when a session token is set.
    bool temporary() const noexcept { return !token.empty(); }

    /// For logs: "AKIDz8kr...MPLE (secret key hidden)", plus ", temporary"
    /// when a token is set. Short ids are shown whole. Never contains the key
    /// or the token.
    std::string redacted() const;
};

/// Reads an environment variable: returns nullptr when unset. Used to inject
/// a fake environment in tests.
using getenv_function = std::function<const char*(const char*)>;

/// Where resolve_credentials looks.
struct credentials_options {
    /// Used first when set; both secret_id and secret_key must be non-empty
    /// (else credentials_invalid). Default: unset.
    std::optional<credentials> explicit_credentials;
    /// Profile (INI section) in the credentials file. Default "": no profile
    /// named, so the environment comes first and then the "default" profile.
    /// A name (even "default") is used before the environment and must be
    /// found (else credentials_invalid), including in $HOME's file.
    std::string profile;
    /// Credentials file. Default (unset): $TENCENTCLOUD_CREDENTIALS_FILE, else
    /// $HOME/.tencentcloud/credentials. A file named here or by the variable
    /// must exist (else credentials_invalid); the $HOME default may be absent.
    std::optional<std::string> credentials_file;
    /// Read TENCENTCLOUD_SECRET_ID / _SECRET_KEY / _SESSION_TOKEN. Default true.
    /// (TENCENTCLOUD_CREDENTIALS_FILE and HOME are read regardless.)
    bool use_environment = true;
    /// Environment lookup. Default (empty): std::getenv, which is not safe
    /// against a concurrent setenv in another thread.
    getenv_function getenv;
};

/// Resolves credentials: explicit → named profile → environment → default
/// profile (see the top of this file).
///
/// Throws cbs::error with
///  * client_errc::credentials_missing: no source had credentials; the
///    message lists every place it looked;
///  * client_errc::credentials_invalid: explicit credentials with an empty id
///    or key; half-set environment (ID without KEY or vice versa, or a token
///    alone); an unreadable file, or a configured file that does not exist; a
///    malformed INI line (with its line number); profile section not found;
///    a profile without secret_id or secret_key.
/// Thread-safety: safe to call concurrently if `getenv` is (see above).
/// Blocking: may read one small file.
credentials resolve_credentials(const credentials_options& opts = {});

/// Non-throwing form. On failure returns {} and sets `ec` and
/// `diag.client_message`. On success clears `ec` and `diag`, then sets
/// `diag.client_message` to a warning when the credentials file is readable
/// by group/others (else it stays empty).
credentials resolve_credentials(const credentials_options& opts, error_code& ec, diagnostics& diag);

/// One profile of the credentials file, role fields included.
struct profile_config {
    /// secret_id / secret_key / token of the section (all empty when the
    /// profile takes its keys from `source_profile`); `source` names the
    /// profile and file. With `role_arn` these are the source keys that sign
    /// the STS AssumeRole call.
    credentials keys;
    /// role_arn: assume this role (STS AssumeRole). Empty: plain keys.
    std::string role_arn;
    /// role_session_name. Empty: the provider's default.
    std::string role_session_name;
    /// duration_seconds (1..43200). Unset: the provider's default (7200 s).
    std::optional<std::chrono::seconds> duration;
    /// source_profile: the profile whose keys sign the AssumeRole call
    /// (instead of keys in this section).
    std::string source_profile;
    /// True when the profile names a role.
    bool has_role() const noexcept { return !role_arn.empty(); }
};

/// Pure parser: INI text → profile `profile` ("" = "default") with its role
/// fields. Same format and errors as parse_credentials_file, plus the role
/// keys role_arn, role_session_name, duration_seconds, source_profile.
/// Errors (credentials_invalid): keys missing when there is no
/// source_profile; source_profile without role_arn; source_profile next to
/// secret_id/secret_key (ambiguous); role_session_name or duration_seconds
/// without role_arn; duration_seconds not a whole number in 1..43200. The
/// source profile is not looked up here (see resolve_profile).
profile_config parse_profile(std::string_view text, std::string_view profile, std::string_view source_name,
                             error_code& ec, diagnostics& diag);

/// parse_profile, then the source profile's keys when `source_profile` is
/// set (that profile must have keys and no role of its own: roles are not
/// chained). The result's `keys` are then the source profile's.
profile_config resolve_profile(std::string_view text, std::string_view profile, std::string_view source_name,
                               error_code& ec, diagnostics& diag);

/// Pure parser (tests, fuzzing): INI text → credentials of section `profile`
/// ("" = "default"). `source_name` names the text in messages (e.g. its path).
///
/// Format: `[section]` headers; `key = value` lines (key and value trimmed,
/// keys case-insensitive); blank lines and lines starting with '#' or ';' are
/// ignored; CRLF and a UTF-8 BOM are accepted. Keys: secret_id, secret_key,
/// optional token; unknown keys are ignored; a repeated key overrides. The
/// role keys (see parse_profile) are checked but not used here: this returns
/// the section's own keys.
/// Errors (credentials_invalid, returns {}): a malformed line anywhere
/// ("<source>:<line>: ..."; the line's text is not echoed, since it may hold a
/// secret), section not found, secret_id or secret_key missing or empty.
credentials parse_credentials_file(std::string_view text, std::string_view profile, std::string_view source_name,
                                   error_code& ec, diagnostics& diag);

/// Returns a warning if `path` is accessible by group or others (any of the
/// mode bits 077, like ssh), e.g. "credentials file /x is accessible by group/others
/// (mode 0644); run: chmod 600 /x". Empty if the mode is fine or the file
/// cannot be stat'ed. Thread-safe.
std::string credentials_file_permission_warning(const std::string& path);

}  // namespace cbs
