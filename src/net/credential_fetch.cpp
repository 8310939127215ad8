// Shared pieces of the credential providers (see detail/credential_fetch.hpp).
#include <cbs/detail/credential_fetch.hpp>
#include <cbs/detail/credential_sources.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include <exception>

namespace cbs::detail {

namespace asio = boost::asio;
namespace json = boost::json;

void spawn_fetch(const asio::any_io_executor& ex, asio::awaitable<fetch_result> fetch,
                 credential_provider::handler_type handler) {
    // co_spawn starts the coroutine through the executor (never inline), so
    // the handler never runs inside async_fetch.
    asio::co_spawn(ex, std::move(fetch), [h = std::move(handler)](const std::exception_ptr& e, fetch_result r) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                r = fetch_failure(client_errc::credentials_invalid, std::string("fetching credentials: ") + x.what());
            } catch (...) {
                r = fetch_failure(client_errc::credentials_invalid, "fetching credentials: unknown exception");
            }
        }
        h(r.ec, std::move(r.creds), std::move(r.diag));
    });
}

asio::awaitable<fetch_result> async_fetch_from(std::shared_ptr<credential_provider> provider,
                                               asio::any_io_executor ex) {
    // Not a coroutine itself: it returns the awaitable that async_initiate
    // makes (which owns a copy of the initiation). Wrapped in a coroutine of
    // its own, as `co_return co_await async_initiate(...)`, GCC 12 destroyed
    // the initiation's temporary twice (found with valgrind).
    //
    // The awaitable's completion handler is move-only and the provider's
    // handler is a std::function: share it. It is resumed from a fresh post,
    // never from inside the provider's own coroutine (which calls its
    // handler from its completion).
    return asio::async_initiate<const asio::use_awaitable_t<>&, void(fetch_result)>(
        [provider = std::move(provider), ex = std::move(ex)](auto handler) {
            auto h = std::make_shared<decltype(handler)>(std::move(handler));
            provider->async_fetch(ex, [h, ex](error_code ec, credentials c, diagnostics d) {
                asio::post(ex, [h, r = fetch_result{ec, std::move(c), std::move(d)}]() mutable { (*h)(std::move(r)); });
            });
        },
        asio::use_awaitable);
}

fetch_result fetch_failure(error_code ec, std::string message) {
    fetch_result r;
    r.ec = ec;
    r.diag.client_message = std::move(message);
    return r;
}

std::chrono::system_clock::time_point from_unix_seconds(std::int64_t s) noexcept {
    return std::chrono::system_clock::time_point(std::chrono::seconds(s));
}

std::string env_or(const getenv_function& fn, std::string_view name, std::string fallback) {
    auto v = read_env(fn, name);
    return v.empty() ? std::move(fallback) : v;
}

namespace {

/// Reads the three credential strings and the expiry from `creds` (and
/// `expiry` for ExpiredTime): the metadata answer has them side by side, STS
/// nests the strings in Credentials.
fetch_result take_credentials(const json::object& creds, const json::object& expiry, const std::string& source,
                              std::string_view what) {
    fetch_result r;
    const auto str = [&](std::string_view key, std::string& out) {
        const auto* v = creds.if_contains(key);
        if (!v || !v->is_string() || v->get_string().empty()) return false;
        out.assign(v->get_string().data(), v->get_string().size());
        return true;
    };
    const char* missing = nullptr;
    if (!str("TmpSecretId", r.creds.secret_id))
        missing = "TmpSecretId";
    else if (!str("TmpSecretKey", r.creds.secret_key))
        missing = "TmpSecretKey";
    else if (!str("Token", r.creds.token))
        missing = "Token";
    const auto* exp = expiry.if_contains("ExpiredTime");
    std::int64_t expired_time = 0;
    if (!missing) {
        if (exp && exp->is_int64())
            expired_time = exp->get_int64();
        else if (exp && exp->is_uint64() && exp->get_uint64() < (1ull << 40))
            expired_time = static_cast<std::int64_t>(exp->get_uint64());
        else
            missing = "ExpiredTime (unix seconds)";
    }
    if (missing) {
        wipe_secret(r.creds.secret_key);
        wipe_secret(r.creds.token);
        return fetch_failure(client_errc::credentials_invalid,
                             source + ": the " + std::string(what) + " has no " + missing);
    }
    r.creds.expires = from_unix_seconds(expired_time);
    r.creds.source = source;
    return r;
}

}  // namespace

fetch_result parse_metadata_credentials(std::string_view body, const std::string& source) {
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    if (ec || !v.is_object())
        return fetch_failure(client_errc::credentials_invalid, source + ": the answer is not a JSON object");
    const auto& o = v.get_object();
    if (const auto* code = o.if_contains("Code"); code && !(code->is_string() && code->get_string() == "Success")) {
        std::string c = code->is_string() ? std::string(code->get_string()) : "(not a string)";
        if (c.size() > 64) c.resize(64);
        return fetch_failure(client_errc::credentials_invalid, source + ": the answer's Code is " + c);
    }
    return take_credentials(o, o, source, "answer");
}

fetch_result parse_sts_credentials(const json::object& response, const std::string& source) {
    const auto* c = response.if_contains("Credentials");
    if (!c || !c->is_object())
        return fetch_failure(client_errc::credentials_invalid, source + ": the answer has no Credentials object");
    auto r = take_credentials(c->get_object(), response, source, "answer");
    if (const auto* id = response.if_contains("RequestId"); id && id->is_string()) {
        r.diag.request_id = id->get_string().c_str();
        if (!r.ec) r.diag.request_ids.push_back(r.diag.request_id);
    }
    return r;
}

}  // namespace cbs::detail
