// CVM instance role credentials from the metadata service, and the static
// provider. The metadata service answers plain HTTP on the local link; the
// role name is asked once and kept (it changes only when the instance's role
// is changed, and then the credentials request 404s and it is asked again).
#include <cbs/credential_provider.hpp>
#include <cbs/detail/credential_fetch.hpp>
#include <cbs/detail/credential_http.hpp>
#include <cbs/detail/credential_sources.hpp>
#include <cbs/endpoint.hpp>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <mutex>

namespace cbs {

namespace asio = boost::asio;

namespace {

constexpr std::string_view role_list_path = "/latest/meta-data/cam/security-credentials/";

[[noreturn]] void config_error(std::string what) {
    diagnostics diag;
    diag.client_message = std::move(what);
    throw error(make_error_code(client_errc::invalid_config), std::move(diag));
}

/// Role names are [A-Za-z0-9+=,.@_-]: anything else would change the path.
bool valid_role_name(std::string_view s) {
    return !s.empty() && s.size() <= 128 && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               std::string_view("+=,.@_-").find(c) != std::string_view::npos;
    });
}

class static_provider final : public credential_provider {
public:
    explicit static_provider(credentials c) : creds_(std::move(c)) {}
    void async_fetch(asio::any_io_executor ex, handler_type handler) override {
        asio::post(ex, [c = creds_, h = std::move(handler)]() mutable {
            if (c.secret_id.empty() || c.secret_key.empty()) {
                diagnostics diag;
                diag.client_message = std::string("credentials need both a SecretId and a SecretKey (") +
                                      (c.secret_id.empty() ? "SecretId" : "SecretKey") + " is empty)";
                h(make_error_code(client_errc::credentials_missing), credentials{}, std::move(diag));
                return;
            }
            if (c.source.empty()) c.source = "explicit";
            h(error_code{}, std::move(c), diagnostics{});
        });
    }
    std::string describe() const override { return "static keys"; }

private:
    credentials creds_;
};

class cvm_role_provider final : public credential_provider, public std::enable_shared_from_this<cvm_role_provider> {
public:
    cvm_role_provider(endpoint ep, cvm_role_params p) : ep_(std::move(ep)), params_(std::move(p)) {
        role_ = params_.role_name;
    }

    void async_fetch(asio::any_io_executor ex, handler_type handler) override {
        detail::spawn_fetch(ex, fetch(shared_from_this()), std::move(handler));
    }

    std::string describe() const override { return "CVM role (metadata service " + ep_.url() + ")"; }

private:
    static asio::awaitable<detail::fetch_result> fetch(std::shared_ptr<cvm_role_provider> self) {
        std::string role;
        {
            std::lock_guard lock(self->mutex_);
            role = self->role_;
        }
        diagnostics diag;
        if (role.empty()) {
            auto r = co_await detail::async_plain_http_get(self->ep_, std::string(role_list_path),
                                                           self->params_.connect_timeout, self->params_.request_timeout,
                                                           diag);
            if (r.ec) co_return detail::fetch_failure(r.ec, "CVM role: " + diag.client_message);
            const auto url = self->ep_.url() + std::string(role_list_path);
            if (r.status == 404)
                co_return detail::fetch_failure(client_errc::credentials_missing,
                                                "CVM role: no role bound to this instance (404 from " + url + ")");
            if (r.status != 200)
                co_return detail::fetch_failure(client_errc::credentials_invalid,
                                                "CVM role: " + url + " answered HTTP " + std::to_string(r.status));
            std::string_view body = r.body;
            body = body.substr(0, body.find_first_of("\r\n"));
            while (!body.empty() && (body.back() == ' ' || body.back() == '\t')) body.remove_suffix(1);
            while (!body.empty() && (body.front() == ' ' || body.front() == '\t')) body.remove_prefix(1);
            if (body.empty())
                co_return detail::fetch_failure(
                    client_errc::credentials_missing,
                    "CVM role: no role bound to this instance (empty list from " + url + ")");
            if (!valid_role_name(body))
                co_return detail::fetch_failure(
                    client_errc::credentials_invalid,
                    "CVM role: " + url + " answered a role name with unexpected characters");
            role.assign(body);
        }
        const auto path = std::string(role_list_path) + role;
        auto r = co_await detail::async_plain_http_get(self->ep_, path, self->params_.connect_timeout,
                                                       self->params_.request_timeout, diag);
        const auto source = "CVM role \"" + role + "\" (metadata service " + self->ep_.url() + ")";
        if (r.ec) co_return detail::fetch_failure(r.ec, "CVM role: " + diag.client_message);
        if (r.status != 200) {
            if (r.status == 404 && self->params_.role_name.empty()) {
                std::lock_guard lock(self->mutex_);
                self->role_.clear();  // the role was changed: ask again next time
            }
            co_return detail::fetch_failure(
                r.status == 404 ? client_errc::credentials_missing : client_errc::credentials_invalid,
                source + ": " + self->ep_.url() + path + " answered HTTP " + std::to_string(r.status));
        }
        auto out = detail::parse_metadata_credentials(r.body, source);
        detail::wipe_secret(r.body);
        if (!out.ec) {
            std::lock_guard lock(self->mutex_);
            self->role_ = role;
        }
        co_return out;
    }

    endpoint ep_;
    cvm_role_params params_;
    std::mutex mutex_;
    std::string role_;  // guarded by mutex_
};

}  // namespace

std::shared_ptr<credential_provider> make_static_provider(credentials creds) {
    return std::make_shared<static_provider>(std::move(creds));
}

std::shared_ptr<credential_provider> make_cvm_role_provider(cvm_role_params params) {
    if (params.endpoint.empty())
        params.endpoint = detail::env_or(params.getenv, "CBS_METADATA_ENDPOINT", "http://metadata.tencentyun.com");
    endpoint ep;
    std::string why;
    if (!parse_endpoint(params.endpoint, ep, why)) config_error("metadata endpoint: " + why);
    if (ep.scheme != "http")
        config_error("metadata endpoint '" + params.endpoint +
                     "' must be http://host[:port]: the metadata service speaks plain HTTP on the local link");
    if (!params.role_name.empty() && !valid_role_name(params.role_name))
        config_error("CVM role name '" + params.role_name + "' has characters a role name cannot have");
    if (params.connect_timeout.count() <= 0 || params.request_timeout.count() <= 0)
        config_error("cvm_role_params: timeouts must be positive");
    return std::make_shared<cvm_role_provider>(std::move(ep), std::move(params));
}

}  // namespace cbs
