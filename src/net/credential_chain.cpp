// The default credential chain: explicit → (named profile) → environment →
// default profile (with its role) → TKE OIDC → CVM role. The first fetch
// picks the source and keeps it, so refreshes go straight to it; the error
// when nothing is found names every source and why it gave nothing.
#include <cbs/credential_provider.hpp>
#include <cbs/detail/credential_fetch.hpp>
#include <cbs/detail/credential_sources.hpp>

#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace cbs {

namespace asio = boost::asio;

namespace {

class chain_provider final : public credential_provider, public std::enable_shared_from_this<chain_provider> {
public:
    explicit chain_provider(credential_chain_params p) : params_(std::move(p)) {
        if (!params_.cvm.getenv) params_.cvm.getenv = params_.files.getenv;
    }

    void async_fetch(asio::any_io_executor ex, handler_type handler) override {
        std::shared_ptr<credential_provider> chosen;
        {
            std::lock_guard lock(mutex_);
            chosen = chosen_;
        }
        if (chosen) {
            chosen->async_fetch(std::move(ex), std::move(handler));
            return;
        }
        detail::spawn_fetch(ex, resolve(shared_from_this(), ex), std::move(handler));
    }

    std::string describe() const override {
        std::lock_guard lock(mutex_);
        return chosen_ ? chosen_->describe() : std::string("default credential chain");
    }

private:
    /// `base`, or an AssumeRole of params_.role_arn signed with it.
    std::shared_ptr<credential_provider> with_role(std::shared_ptr<credential_provider> base) const {
        if (params_.role_arn.empty()) return base;
        return make_assume_role_provider(role_params(std::move(base), params_.role_arn, {}, {}));
    }

    assume_role_params role_params(std::shared_ptr<credential_provider> source, std::string arn,
                                   const std::string& session, std::optional<std::chrono::seconds> duration) const {
        assume_role_params rp;
        rp.role_arn = std::move(arn);
        rp.role_session_name = session.empty() ? params_.role_session_name : session;
        rp.duration = duration.value_or(params_.role_duration);
        rp.region = params_.sts_region;
        rp.endpoint = params_.sts_endpoint;
        rp.pool = params_.sts_pool;
        rp.request_timeout = params_.sts_request_timeout;
        rp.source = std::move(source);
        rp.getenv = params_.files.getenv;
        return rp;
    }

    void choose(std::shared_ptr<credential_provider> p) {
        std::lock_guard lock(mutex_);
        chosen_ = std::move(p);
    }

    /// Steps 1-5, which need no network to choose: the provider of the
    /// first source that has credentials (null: none), `looked` filled for
    /// the others; false with `failure` set when a source is set up wrongly.
    /// Not a coroutine: it may throw inside (a bad STS endpoint, a role
    /// duration out of range), and that is turned into `failure` here.
    bool pick_before_cvm(std::shared_ptr<credential_provider>& found, std::vector<std::string>& looked,
                         detail::fetch_result& failure) const {
        const auto& p = params_;
        try {
            error_code ec;
            diagnostics diag;
            auto st = detail::lookup_static_credentials(p.files, ec, diag);
            if (ec) {
                failure = detail::fetch_failure(ec, diag.client_message);
                return false;
            }
            looked = std::move(st.looked);
            if (st.what == detail::static_lookup::keys) {
                found = make_static_provider(std::move(st.creds));
            } else if (st.what == detail::static_lookup::role) {
                auto source = make_static_provider(std::move(st.creds));
                found = make_assume_role_provider(role_params(std::move(source), st.profile.role_arn,
                                                              st.profile.role_session_name, st.profile.duration));
            }
            // 5: TKE OIDC, when its variables are set.
            if (!found && p.use_web_identity) {
                if (web_identity_configured(p.files.getenv)) {
                    web_identity_params wp;
                    wp.endpoint = p.sts_endpoint;
                    wp.pool = p.sts_pool;
                    wp.request_timeout = p.sts_request_timeout;
                    wp.getenv = p.files.getenv;
                    found = make_web_identity_provider(std::move(wp));
                } else {
                    std::string missing;
                    for (auto name : {"TKE_REGION", "TKE_PROVIDER_ID", "TKE_WEB_IDENTITY_TOKEN_FILE", "TKE_ROLE_ARN"})
                        if (detail::read_env(p.files.getenv, name).empty())
                            missing += (missing.empty() ? "" : ", ") + std::string(name);
                    looked.push_back("TKE OIDC (" + missing + " not set)");
                }
            }
            if (found) found = with_role(std::move(found));
        } catch (const error& e) {
            // Set up wrongly: said at once, not skipped.
            failure = detail::fetch_failure(e.code(), e.diag().client_message);
            return false;
        }
        return true;
    }

    /// make(): a provider, or null with `failure` set (a config error).
    template <class Make>
    static std::shared_ptr<credential_provider> made(Make make, detail::fetch_result& failure) {
        try {
            return make();
        } catch (const error& e) {
            failure = detail::fetch_failure(e.code(), e.diag().client_message);
            return nullptr;
        }
    }

    // No try/catch in the coroutine itself: what can throw is in the plain
    // functions above.
    static asio::awaitable<detail::fetch_result> resolve(std::shared_ptr<chain_provider> self,
                                                         asio::any_io_executor ex) {
        std::shared_ptr<credential_provider> found;
        std::vector<std::string> looked;
        detail::fetch_result failure;
        if (!self->pick_before_cvm(found, looked, failure)) co_return failure;
        if (found) {
            auto r = co_await detail::async_fetch_from(found, ex);
            if (!r.ec) self->choose(found);
            co_return r;
        }

        // 6: the CVM role. Off a CVM the metadata service does not answer
        // (or its name does not resolve): that is "nothing here", listed.
        if (!self->params_.use_cvm_role) {
            looked.emplace_back("CVM role (disabled)");
            co_return detail::fetch_failure(client_errc::credentials_missing,
                                            "looked in: " + detail::join_looked(looked));
        }
        auto cvm = made([&] { return make_cvm_role_provider(self->params_.cvm); }, failure);
        if (!cvm) co_return failure;
        auto r = co_await detail::async_fetch_from(cvm, ex);
        if (r.ec) {
            if (r.ec == client_errc::credentials_invalid) co_return r;  // set up wrongly: say so
            looked.push_back(r.diag.client_message.empty() ? "CVM role (" + r.ec.message() + ")"
                                                           : r.diag.client_message);
            co_return detail::fetch_failure(client_errc::credentials_missing,
                                            "looked in: " + detail::join_looked(looked));
        }
        auto chosen = made([&] { return self->with_role(cvm); }, failure);
        if (!chosen) co_return failure;
        if (chosen != cvm) {
            // The instance role's credentials only sign the AssumeRole call.
            r = co_await detail::async_fetch_from(chosen, ex);
            if (r.ec) co_return r;
        }
        self->choose(chosen);
        co_return r;
    }

    credential_chain_params params_;
    mutable std::mutex mutex_;
    std::shared_ptr<credential_provider> chosen_;  // guarded by mutex_
};

}  // namespace

std::shared_ptr<credential_provider> make_default_credential_chain(credential_chain_params params) {
    return std::make_shared<chain_provider>(std::move(params));
}

}  // namespace cbs
