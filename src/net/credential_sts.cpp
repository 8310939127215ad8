// STS role credentials: AssumeRole (signed with a source provider's
// credentials) and TKE OIDC AssumeRoleWithWebIdentity (unsigned). Each calls
// STS with a cbs::client of its own (service "sts", version 2018-08-13), so
// TLS, the CA file, the pool and the retries are the ones the CBS calls use.
#include <cbs/client.hpp>
#include <cbs/credential_provider.hpp>
#include <cbs/detail/credential_fetch.hpp>
#include <cbs/detail/credential_sources.hpp>
#include <cbs/endpoint.hpp>

#include <boost/json/object.hpp>

#include <mutex>
#include <optional>

namespace cbs {

namespace asio = boost::asio;

namespace {

constexpr std::string_view sts_version = "2018-08-13";
constexpr std::string_view default_sts_endpoint = "https://sts.tencentcloudapi.com";

[[noreturn]] void config_error(std::string what) {
    diagnostics diag;
    diag.client_message = std::move(what);
    throw error(make_error_code(client_errc::invalid_config), std::move(diag));
}

std::string checked_sts_endpoint(std::string url, const getenv_function& getenv) {
    if (url.empty()) url = detail::env_or(getenv, "CBS_STS_ENDPOINT", std::string(default_sts_endpoint));
    endpoint ep;
    std::string why;
    if (!parse_endpoint(url, ep, why)) config_error("STS endpoint: " + why);
    if (ep.scheme != "https") config_error("STS endpoint '" + url + "' is not https");
    return url;
}

void check_duration(std::chrono::seconds d) {
    if (d.count() < 1 || d.count() > 43200) config_error("role duration must be 1..43200 seconds");
}

/// What both STS providers share: the client they call STS with, made on
/// the first fetch's executor.
class sts_caller {
public:
    explicit sts_caller(client_params p) : params_(std::move(p)) {
        params_.service = "sts";
        params_.version = std::string(sts_version);
        // A credential fetch holds up the calls waiting for it: keep its
        // retries short (each call still has its own deadline).
        params_.retry.deadline = std::chrono::seconds(30);
    }

    /// The client, made on first use; nullptr and `failure` set when the
    /// parameters are refused (e.g. an unreadable CA file).
    client* get(const asio::any_io_executor& ex, detail::fetch_result& failure, const std::string& source) {
        std::lock_guard lock(mutex_);
        if (!client_) {
            try {
                client_.emplace(ex, params_);
            } catch (const error& e) {
                failure = detail::fetch_failure(e.code(), source + ": STS client: " + e.diag().client_message);
                return nullptr;
            }
        }
        return &*client_;
    }
    const std::string& endpoint_url() const noexcept { return params_.endpoint; }

private:
    client_params params_;
    std::mutex mutex_;
    std::optional<client> client_;  // guarded by mutex_ until made
};

client_params sts_client_params(std::string endpoint, std::string region, const pool_params& pool,
                                std::chrono::milliseconds request_timeout) {
    client_params p;
    p.endpoint = std::move(endpoint);
    p.region = std::move(region);
    p.pool = pool;
    p.request_timeout = request_timeout;
    return p;
}

/// Calls `action` and turns its answer into credentials named `source`.
asio::awaitable<detail::fetch_result> call_sts(client& c, const std::string& endpoint, std::string action,
                                               boost::json::object body, std::string source) {
    auto r = co_await c.async_call(action, std::move(body), cbs::as_result);
    if (r.ec) {
        detail::fetch_result out;
        out.ec = r.ec;
        out.diag = std::move(r.diag);
        out.diag.client_message = source + ": " + action + " at " + endpoint + " failed" +
                                  (out.diag.client_message.empty() ? "" : ": " + out.diag.client_message);
        co_return out;
    }
    co_return detail::parse_sts_credentials(r.value, source);
}

/// call_sts through `sts`'s client (made on first use on `ex`).
asio::awaitable<detail::fetch_result> call_sts(sts_caller& sts, const asio::any_io_executor& ex, std::string action,
                                               boost::json::object body, std::string source) {
    detail::fetch_result failure;
    auto* c = sts.get(ex, failure, source);
    if (!c) co_return failure;
    auto r = co_await call_sts(*c, sts.endpoint_url(), std::move(action), std::move(body), std::move(source));
    co_return r;
}

class assume_role_provider final : public credential_provider,
                                   public std::enable_shared_from_this<assume_role_provider> {
public:
    explicit assume_role_provider(assume_role_params p)
        : params_(std::move(p)), sts_([&] {
              auto cp = sts_client_params(params_.endpoint, params_.region, params_.pool, params_.request_timeout);
              cp.credentials_provider = params_.source;
              return cp;
          }()) {}

    void async_fetch(asio::any_io_executor ex, handler_type handler) override {
        detail::spawn_fetch(ex, fetch(shared_from_this(), ex), std::move(handler));
    }
    std::string describe() const override {
        return "STS AssumeRole " + params_.role_arn + " (signed with " + params_.source->describe() + ")";
    }

private:
    static asio::awaitable<detail::fetch_result> fetch(std::shared_ptr<assume_role_provider> self,
                                                       asio::any_io_executor ex) {
        const auto& p = self->params_;
        boost::json::object body;
        body["RoleArn"] = p.role_arn;
        body["RoleSessionName"] = p.role_session_name;
        body["DurationSeconds"] = p.duration.count();
        const auto source = "STS AssumeRole " + p.role_arn + " as session " + p.role_session_name;
        auto r = co_await call_sts(self->sts_, ex, "AssumeRole", std::move(body), source);
        co_return r;
    }

    assume_role_params params_;
    sts_caller sts_;
};

class web_identity_provider final : public credential_provider,
                                    public std::enable_shared_from_this<web_identity_provider> {
public:
    explicit web_identity_provider(web_identity_params p)
        : params_(std::move(p)), sts_([&] {
              auto cp = sts_client_params(params_.endpoint, params_.region, params_.pool, params_.request_timeout);
              cp.unsigned_requests = true;  // the service takes this action unsigned
              return cp;
          }()) {}

    void async_fetch(asio::any_io_executor ex, handler_type handler) override {
        detail::spawn_fetch(ex, fetch(shared_from_this(), ex), std::move(handler));
    }
    std::string describe() const override { return "TKE OIDC role " + params_.role_arn; }

private:
    static asio::awaitable<detail::fetch_result> fetch(std::shared_ptr<web_identity_provider> self,
                                                       asio::any_io_executor ex) {
        const auto& p = self->params_;
        const auto source = "TKE OIDC AssumeRoleWithWebIdentity " + p.role_arn + " (provider " + p.provider_id +
                            ", token file " + p.token_file + ")";
        // Read at every fetch: the kubelet rotates the token.
        std::string token, why;
        if (!detail::read_small_file(p.token_file, "web identity token file", token, why))
            co_return detail::fetch_failure(client_errc::credentials_invalid, source + ": " + why);
        while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' '))
            token.pop_back();
        if (token.empty())
            co_return detail::fetch_failure(client_errc::credentials_invalid,
                                            source + ": the token file " + p.token_file + " is empty");
        boost::json::object body;
        body["ProviderId"] = p.provider_id;
        body["WebIdentityToken"] = token;
        body["RoleArn"] = p.role_arn;
        body["RoleSessionName"] = p.role_session_name;
        body["DurationSeconds"] = p.duration.count();
        detail::wipe_secret(token);
        auto r = co_await call_sts(self->sts_, ex, "AssumeRoleWithWebIdentity", std::move(body), source);
        co_return r;
    }

    web_identity_params params_;
    sts_caller sts_;
};

}  // namespace

std::shared_ptr<credential_provider> make_assume_role_provider(assume_role_params params) {
    if (params.role_arn.empty()) config_error("assume_role_params.role_arn is empty");
    if (!params.source) config_error("assume_role_params.source is not set (who signs the AssumeRole call?)");
    if (params.role_session_name.empty()) config_error("assume_role_params.role_session_name is empty");
    check_duration(params.duration);
    params.endpoint = checked_sts_endpoint(std::move(params.endpoint), params.getenv);
    return std::make_shared<assume_role_provider>(std::move(params));
}

bool web_identity_configured(const getenv_function& getenv) {
    for (auto name : {"TKE_REGION", "TKE_PROVIDER_ID", "TKE_WEB_IDENTITY_TOKEN_FILE", "TKE_ROLE_ARN"})
        if (detail::read_env(getenv, name).empty()) return false;
    return true;
}

std::shared_ptr<credential_provider> make_web_identity_provider(web_identity_params params) {
    const auto fill = [&](std::string& field, const char* var) {
        if (field.empty()) field = detail::read_env(params.getenv, var);
        if (field.empty()) config_error(std::string("TKE OIDC: ") + var + " is not set");
    };
    fill(params.region, "TKE_REGION");
    fill(params.provider_id, "TKE_PROVIDER_ID");
    fill(params.token_file, "TKE_WEB_IDENTITY_TOKEN_FILE");
    fill(params.role_arn, "TKE_ROLE_ARN");
    if (params.role_session_name.empty()) config_error("web_identity_params.role_session_name is empty");
    check_duration(params.duration);
    params.endpoint = checked_sts_endpoint(std::move(params.endpoint), params.getenv);
    return std::make_shared<web_identity_provider>(std::move(params));
}

}  // namespace cbs
