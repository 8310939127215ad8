// What the credential providers share: the outcome of one fetch, running a
// fetch coroutine for a provider's handler, and the pure parsers of the
// answers (metadata JSON, STS Response), unit-tested on their own.
// Internal.
#pragma once

#include <cbs/credential_provider.hpp>
#include <cbs/credentials.hpp>
#include <cbs/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace cbs::detail {

struct fetch_result {
    error_code ec;
    credentials creds;
    diagnostics diag;
};

/// Runs `fetch` on `ex` and hands its outcome to `handler` (on `ex`, never
/// inline). An exception escaping the coroutine becomes an error result.
void spawn_fetch(const boost::asio::any_io_executor& ex, boost::asio::awaitable<fetch_result> fetch,
                 credential_provider::handler_type handler);

/// Awaits one fetch of `provider` (kept alive until it completes).
boost::asio::awaitable<fetch_result> async_fetch_from(std::shared_ptr<credential_provider> provider,
                                                      boost::asio::any_io_executor ex);

/// A failed fetch: ec and client_message.
fetch_result fetch_failure(error_code ec, std::string message);

/// The metadata service's role credentials: {"TmpSecretId", "TmpSecretKey",
/// "Token", "ExpiredTime" (unix seconds), "Code": "Success"}. Errors
/// (credentials_invalid; messages name the field, never a value): not JSON,
/// Code other than Success, a field missing or of the wrong type.
fetch_result parse_metadata_credentials(std::string_view body, const std::string& source);

/// STS AssumeRole / AssumeRoleWithWebIdentity: the Response object (as
/// client::async_call returns it) with Credentials {TmpSecretId,
/// TmpSecretKey, Token} and ExpiredTime (unix seconds).
fetch_result parse_sts_credentials(const boost::json::object& response, const std::string& source);

/// Unix seconds to a system_clock time point.
std::chrono::system_clock::time_point from_unix_seconds(std::int64_t s) noexcept;

/// The environment value, or `fallback` when unset or empty.
std::string env_or(const getenv_function& fn, std::string_view name, std::string fallback);

}  // namespace cbs::detail
