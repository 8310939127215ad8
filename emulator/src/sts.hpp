// The emulator's credential service, without I/O: STS AssumeRole /
// AssumeRoleWithWebIdentity, the CVM metadata answers, and the temporary
// credentials they issue (looked up by the signature check). Not
// thread-safe: the gateway calls it under its lock. Time is passed in (unix
// seconds on the emulator's clock, emulator_params::unix_time).
#pragma once

#include <cbs/emulator/emulator.hpp>

#include <boost/json/object.hpp>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace cbs::emu::detail {

/// X-TC-Version of the STS actions.
inline constexpr std::string_view sts_version = "2018-08-13";
/// Longest DurationSeconds (and temporary-credential lifetime): 12 hours.
inline constexpr std::int64_t max_sts_duration = 43200;

/// AssumeRole or AssumeRoleWithWebIdentity (the STS actions served).
bool is_sts_action(std::string_view action) noexcept;
/// An action of the STS API, served or not (GetFederationToken, ...): signed
/// with the service `sts`, version 2018-08-13.
bool is_sts_family(std::string_view action) noexcept;

/// RFC 7231 IMF-fixdate, "Thu, 03 Dec 2026 07:45:00 GMT".
std::string imf_fixdate(std::int64_t unix_seconds);
/// ISO 8601 UTC, "2026-12-03T07:45:00Z" (the STS Expiration field).
std::string iso8601_utc(std::int64_t unix_seconds);

struct role_arn_parts {
    std::string uin;        ///< the digits after "uin/"
    std::string role_name;  ///< after ":roleName/"
};
/// Parses "qcs::cam::uin/<digits>:roleName/<name>" (name a role name, see
/// below); nullopt when malformed.
std::optional<role_arn_parts> parse_role_arn(std::string_view arn);
/// [\w+=,.@-]{lo,hi}, \w being [A-Za-z0-9_].
bool is_name(std::string_view s, std::size_t lo, std::size_t hi) noexcept;

/// One answer of the metadata service.
struct metadata_answer {
    unsigned status = 200;
    std::string content_type;
    std::string body;
    std::string action;            ///< for the request log: metadata:role|credentials|other
    std::string issued_secret_id;  ///< the TmpSecretId served, if any
};

/// The outcome of an STS action: the Response fields or a failure, and the
/// TmpSecretId issued on success.
struct sts_outcome {
    action_result result;
    std::string issued_secret_id;
};

class sts_state {
public:
    /// Takes roles, lifetime, OIDC and metadata settings from `p` (validated
    /// by the emulator's constructor).
    explicit sts_state(const emulator_params& p);

    /// The issued credential with this SecretId (a key with its token), or
    /// nullptr. Valid until the next call that issues.
    const account* find(std::string_view secret_id) const;
    /// True when `secret_id` was issued and has expired at `now`.
    bool expired(std::string_view secret_id, std::int64_t now) const;
    /// Rate-window account of an issued credential ("uin:<digits>" of the
    /// role's ARN, else "role:<name>"), or nullptr when not issued.
    const std::string* account_of(std::string_view secret_id) const;

    /// AssumeRole signed by a verified key; `caller_temporary`: the key has a
    /// token (temporary keys may not assume roles).
    sts_outcome assume_role(const boost::json::object& params, bool caller_temporary, std::int64_t now);
    /// AssumeRoleWithWebIdentity (unsigned).
    sts_outcome assume_role_with_web_identity(const boost::json::object& params, std::int64_t now);

    /// One metadata-service request (`target` is the request target).
    metadata_answer metadata(std::string_view method, std::string_view target, std::int64_t now);

    std::vector<issued_credential> issued() const;
    /// Every credential issued so far expires at `now`.
    void expire_all(std::int64_t now);

private:
    struct entry {
        account key;
        issued_credential info;
        std::string rate_account;
    };
    const entry& issue(std::string source, std::string role_arn, std::string session_name, std::string rate_account,
                       std::int64_t now, std::int64_t lifetime);
    std::optional<api_failure> check_role(const boost::json::object& params, std::int64_t& lifetime,
                                          role_arn_parts& role) const;
    boost::json::object credentials_response(const entry& e) const;
    void forget_old(std::int64_t now);
    std::string random_string(std::size_t n);

    std::vector<std::string> roles_;
    std::int64_t lifetime_;
    std::string oidc_provider_id_, oidc_token_, metadata_role_;
    std::map<std::string, entry, std::less<>> by_id_;
    std::deque<std::string> order_;  // SecretIds in issue order
    std::string metadata_current_;   // SecretId the metadata service serves now
    std::mt19937_64 rng_;
};

}  // namespace cbs::emu::detail
