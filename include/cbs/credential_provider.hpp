// cbs-async: credential providers: where a client gets the credentials it
// signs with, and how it keeps them fresh.
//
// A provider is an asynchronous source of cbs::credentials ({secret_id,
// secret_key, token, expires}). The client asks its provider before the first
// call, and again ahead of expiry in the background (credential_cache_params),
// so a long run never signs with expired credentials and only the first call
// waits for a fetch. Providers:
//
//   make_static_provider          long-lived keys (explicit, environment, profile file)
//   make_cvm_role_provider        CVM instance role, from the metadata service (plain HTTP,
//                                 loopback/link-local addresses only)
//   make_assume_role_provider     STS AssumeRole (version 2018-08-13), signed with the
//                                 credentials of another provider
//   make_web_identity_provider    TKE OIDC: STS AssumeRoleWithWebIdentity with the
//                                 service-account token file (an unsigned call)
//   make_default_credential_chain explicit → environment → profile file (with its role)
//                                 → TKE OIDC → CVM role
//
// Environment variables read (each through an injectable getenv):
//   CBS_METADATA_ENDPOINT   base URL of the metadata service (default http://metadata.tencentyun.com)
//   CBS_STS_ENDPOINT        STS endpoint URL (default https://sts.tencentcloudapi.com)
//   TKE_REGION, TKE_PROVIDER_ID, TKE_WEB_IDENTITY_TOKEN_FILE, TKE_ROLE_ARN (TKE OIDC)
//   and those of resolve_credentials (credentials.hpp).
//
// No error message, exception, diagnostics or `source` string contains a
// secret key or a token.
#pragma once

#include <cbs/credentials.hpp>
#include <cbs/error.hpp>
#include <cbs/pool_params.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace cbs {

/// An asynchronous source of credentials. Implementations are held by
/// std::shared_ptr (the client shares its provider with every fetch).
///
/// Thread-safety: async_fetch may be called concurrently from several
/// threads (several clients may share one provider); implementations
/// serialise what they share.
class credential_provider {
public:
    /// Called exactly once per fetch, never from inside async_fetch itself:
    /// ec {} and the credentials (non-empty secret_id and secret_key,
    /// `source` saying where they came from, `expires` set for temporary
    /// ones), or ec and diagnostics (client_message naming the source and
    /// what failed; never a secret).
    using handler_type = std::function<void(error_code ec, credentials creds, diagnostics diag)>;

    virtual ~credential_provider() = default;

    /// Fetches credentials; `handler` runs on `ex` (dispatched as by
    /// boost::asio::post). I/O of the fetch runs on `ex` too. There is no
    /// cancellation: each provider bounds its own I/O with timeouts (see its
    /// params), and the provider stays alive until the handler has run, even
    /// if the caller drops its pointer. The client never waits longer than a
    /// call's deadline for a fetch (see credential_cache_params).
    /// Errors: client_errc::credentials_missing (the source has nothing: no
    /// role bound, no variables set), client_errc::credentials_invalid (a
    /// source set up wrongly: a bad URL, plain HTTP to a routable address, an
    /// unreadable token file, an answer without credentials), transport
    /// errors (timeouts, connection refused) and the STS service's API errors
    /// (cbs::api_errc, with diag.server_code and RequestId).
    virtual void async_fetch(boost::asio::any_io_executor ex, handler_type handler) = 0;

    /// What this provider is, for logs: "static keys", "CVM role", ...
    virtual std::string describe() const = 0;
};

/// How a client keeps its credentials fresh (client_params::credential_cache).
///
/// Refresh rule: credentials that expire at E, fetched at F (lifetime L =
/// E - F), are refreshed in the background from E - m on, where m =
/// min(refresh_margin, L × max_margin_fraction): 300 s before expiry for the
/// usual hour-long role credentials (as the official SDKs do for the metadata
/// role), but 20 s credentials are refreshed ~6.7 s before expiry, not on
/// every call. The refresh is started by the first call at or after E - m
/// (an idle client does no I/O); calls go on with the current credentials
/// meanwhile. They stop being used at E - g, g = min(expiry_guard, m / 2)
/// (so a request signed now is not refused for an expiry in flight); calls
/// then wait for the refresh, each at most until its deadline. A failed
/// background refresh keeps the current credentials and is tried again
/// after a backoff (retry_backoff_min, doubling, up to retry_backoff_max).
/// Credentials without an expiry are never refreshed for age. A call
/// answered AuthFailure.TokenFailure forces one refresh, shared by every
/// call that saw the same credentials refused.
struct credential_cache_params {
    /// Refresh this long before expiry at most. Default 300 s.
    std::chrono::seconds refresh_margin{300};
    /// ... and at most this fraction of the lifetime. Default 1/3. In (0, 1).
    double max_margin_fraction = 1.0 / 3.0;
    /// Stop signing with credentials this long before expiry at most (also at
    /// most half the margin). Default 5 s.
    std::chrono::seconds expiry_guard{5};
    /// First wait before trying a failed background refresh again. Default 1 s.
    std::chrono::milliseconds retry_backoff_min{1000};
    /// Longest wait between failed background refreshes. Default 30 s.
    std::chrono::milliseconds retry_backoff_max{30'000};
};

/// Long-lived credentials as a provider (validated when fetched: empty id or
/// key → credentials_invalid). describe(): "static keys".
std::shared_ptr<credential_provider> make_static_provider(credentials creds);

/// CVM instance role: GET <endpoint>/latest/meta-data/cam/security-credentials/
/// gives the role name (404: no role bound → credentials_missing), then
/// GET …/<role> gives {"TmpSecretId","TmpSecretKey","Token","ExpiredTime",
/// "Code":"Success"}. Plain HTTP, allowed only when every address the host
/// resolves to is loopback (127.0.0.0/8, ::1) or link-local (169.254.0.0/16,
/// fe80::/10; the metadata service is 169.254.0.23): anything else is
/// credentials_invalid, since role credentials would cross the network in
/// clear text.
struct cvm_role_params {
    /// http://host[:port]. Default empty: $CBS_METADATA_ENDPOINT, else
    /// http://metadata.tencentyun.com.
    std::string endpoint;
    /// The role. Default empty: the first line of the role list (looked up
    /// once, then kept).
    std::string role_name;
    /// Name lookup and TCP connect, each. Default 1 s (the metadata service is
    /// on the local link; off a CVM it does not answer at all).
    std::chrono::milliseconds connect_timeout{1000};
    /// One GET (write the request, read the answer). Default 2 s.
    std::chrono::milliseconds request_timeout{2000};
    /// Environment lookup. Default (empty): std::getenv.
    getenv_function getenv;
};
/// Throws cbs::error (invalid_config) for an endpoint that is not http://host[:port].
std::shared_ptr<credential_provider> make_cvm_role_provider(cvm_role_params params = {});

/// STS AssumeRole (service "sts", version 2018-08-13), called with a
/// cbs::client (TLS, CA file, pool and retries as for CBS) signed with the
/// credentials of `source`. The answer's Credentials {TmpSecretId,
/// TmpSecretKey, Token} and ExpiredTime become the credentials.
struct assume_role_params {
    /// qcs::cam::uin/<uin>:roleName/<name>. Required.
    std::string role_arn;
    /// RoleSessionName. Default "cbs-async".
    std::string role_session_name = "cbs-async";
    /// DurationSeconds, 1..43200. Default 7200 s (the Go SDK's).
    std::chrono::seconds duration{7200};
    /// X-TC-Region of the STS call. Default "ap-guangzhou" (as the Go SDK).
    std::string region = "ap-guangzhou";
    /// https://host[:port]. Default empty: $CBS_STS_ENDPOINT, else
    /// https://sts.tencentcloudapi.com.
    std::string endpoint;
    /// TLS and connection settings of the STS client (ca_file for a private CA).
    pool_params pool;
    /// Timeout of one STS exchange. Default 10 s.
    std::chrono::milliseconds request_timeout{10'000};
    /// Who signs the AssumeRole call. Required.
    std::shared_ptr<credential_provider> source;
    /// Environment lookup. Default (empty): std::getenv.
    getenv_function getenv;
};
/// The STS client is created on the first fetch's executor: every fetch of
/// one provider must use executors of that same execution context.
/// Throws cbs::error (invalid_config) for a missing role_arn or source, a
/// duration outside 1..43200 s or a bad endpoint.
std::shared_ptr<credential_provider> make_assume_role_provider(assume_role_params params);

/// TKE OIDC: STS AssumeRoleWithWebIdentity with the service account's token
/// (read from `token_file` at every fetch: it rotates), sent unsigned
/// (`Authorization: SKIP`, client_params::unsigned_requests), as the service
/// requires.
struct web_identity_params {
    /// Default empty: $TKE_REGION. Required (X-TC-Region of the call).
    std::string region;
    /// Default empty: $TKE_PROVIDER_ID. Required.
    std::string provider_id;
    /// Default empty: $TKE_WEB_IDENTITY_TOKEN_FILE. Required.
    std::string token_file;
    /// Default empty: $TKE_ROLE_ARN. Required.
    std::string role_arn;
    /// RoleSessionName. Default "cbs-async".
    std::string role_session_name = "cbs-async";
    /// DurationSeconds, 1..43200. Default 7200 s.
    std::chrono::seconds duration{7200};
    /// Default empty: $CBS_STS_ENDPOINT, else https://sts.tencentcloudapi.com.
    std::string endpoint;
    pool_params pool;
    /// Timeout of one STS exchange. Default 10 s.
    std::chrono::milliseconds request_timeout{10'000};
    getenv_function getenv;
};
/// True when the four TKE_* variables (through `getenv`) are all set.
bool web_identity_configured(const getenv_function& getenv = {});
/// Throws cbs::error (invalid_config) naming the first required field that
/// is empty (after the environment), or for a bad endpoint.
std::shared_ptr<credential_provider> make_web_identity_provider(web_identity_params params = {});

/// The default chain, in the official SDKs' order:
///   1. explicit credentials (files.explicit_credentials)
///   2. a named profile (files.profile), before the environment
///   3. environment TENCENTCLOUD_SECRET_ID / _SECRET_KEY (/ _SESSION_TOKEN)
///   4. the "default" profile of the credentials file
///      (for 2 and 4: a profile with role_arn means STS AssumeRole signed
///      with its keys or its source_profile's)
///   5. TKE OIDC, when TKE_REGION, TKE_PROVIDER_ID,
///      TKE_WEB_IDENTITY_TOKEN_FILE and TKE_ROLE_ARN are all set
///   6. the CVM instance role (metadata service)
/// The first source that has credentials is chosen on the first fetch and
/// kept for later fetches (refreshes). A source set up wrongly (a half-set
/// environment, a malformed file, TKE variables naming a missing token file)
/// is an error at once; when none has credentials the error
/// (credentials_missing) lists every source tried and why it gave nothing.
/// With `role_arn` set, whatever the chain finds signs an AssumeRole of that
/// role (cbsctl --role-arn).
struct credential_chain_params {
    /// Explicit credentials, profile, credentials file, environment switch,
    /// getenv (also used for every other variable the chain reads).
    credentials_options files;
    /// The CVM role source (its getenv defaults to files.getenv).
    cvm_role_params cvm;
    /// Try TKE OIDC (step 5). Default true.
    bool use_web_identity = true;
    /// Try the CVM role (step 6). Default true.
    bool use_cvm_role = true;
    /// STS calls for roles (profile role_arn, role_arn below, TKE): region
    /// (default "ap-guangzhou"), endpoint (default $CBS_STS_ENDPOINT, else
    /// https://sts.tencentcloudapi.com), TLS settings, exchange timeout.
    std::string sts_region = "ap-guangzhou";
    std::string sts_endpoint;
    pool_params sts_pool;
    std::chrono::milliseconds sts_request_timeout{10'000};
    /// Assume this role with what the chain finds. Default empty: none.
    std::string role_arn;
    /// RoleSessionName for role_arn and profile roles without their own.
    /// Default "cbs-async".
    std::string role_session_name = "cbs-async";
    /// DurationSeconds for role_arn and profile roles without their own.
    /// Default 7200 s.
    std::chrono::seconds role_duration{7200};
};
std::shared_ptr<credential_provider> make_default_credential_chain(credential_chain_params params = {});

}  // namespace cbs
