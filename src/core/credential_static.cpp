// Long-lived credential resolution: explicit → named profile → environment →
// default profile (credentials.hpp). The default chain (credential_chain.cpp)
// runs the same lookup first and goes on to the role sources when it finds
// nothing.
#include <cbs/credentials.hpp>
#include <cbs/detail/credential_sources.hpp>

#include <cstdlib>
#include <string>
#include <vector>

namespace cbs {
using detail::quoted;
namespace {

constexpr std::string_view env_id = "TENCENTCLOUD_SECRET_ID";
constexpr std::string_view env_key = "TENCENTCLOUD_SECRET_KEY";
constexpr std::string_view env_token = "TENCENTCLOUD_SESSION_TOKEN";
constexpr std::string_view env_file = "TENCENTCLOUD_CREDENTIALS_FILE";

detail::static_lookup fail(client_errc e, std::string message, error_code& ec, diagnostics& diag) {
    ec = make_error_code(e);
    diag.client_message = std::move(message);
    return {};
}

}  // namespace

namespace detail {

std::string read_env(const getenv_function& fn, std::string_view name) {
    const std::string n(name);
    const char* v = fn ? fn(n.c_str()) : std::getenv(n.c_str());
    return v ? std::string(v) : std::string();
}

std::string join_looked(const std::vector<std::string>& looked) {
    std::string msg;
    for (std::size_t i = 0; i < looked.size(); ++i) {
        if (i) msg += "; ";
        msg += looked[i];
    }
    return msg;
}

static_lookup lookup_static_credentials(const credentials_options& opts, error_code& ec, diagnostics& diag) {
    ec.clear();
    diag.clear();
    const auto env = [&](std::string_view name) { return read_env(opts.getenv, name); };
    static_lookup out;

    // 1. Explicit.
    if (opts.explicit_credentials) {
        credentials c = *opts.explicit_credentials;
        if (c.secret_id.empty() || c.secret_key.empty())
            return fail(
                client_errc::credentials_invalid,
                std::string("explicit credentials have an empty ") + (c.secret_id.empty() ? "secret_id" : "secret_key"),
                ec, diag);
        if (c.source.empty()) c.source = "explicit";
        out.what = static_lookup::keys;
        out.creds = std::move(c);
        return out;
    }
    out.looked.emplace_back("explicit credentials (not set)");

    // The profile file (step 2 for a named profile, else step 4). Returns
    // true when done (found or failed).
    const bool named_profile = !opts.profile.empty();
    const auto from_file = [&]() -> bool {
        std::string path, origin;
        bool must_exist = true;
        if (opts.credentials_file) {
            path = *opts.credentials_file;
            origin = "configured credentials file ";
        } else if (auto p = env(env_file); !p.empty()) {
            path = std::move(p);
            origin = "credentials file from " + std::string(env_file) + " ";
        } else if (auto home = env("HOME"); !home.empty()) {
            path = home + "/.tencentcloud/credentials";
            origin = "credentials file ";
            must_exist = named_profile;  // a profile asked for by name must be found
        }
        if (path.empty()) {
            if (named_profile) {
                out = fail(client_errc::credentials_invalid,
                           "profile " + quoted(opts.profile) +
                               " was asked for, but there is no credentials file ($HOME is not set)",
                           ec, diag);
                return true;
            }
            out.looked.emplace_back("$HOME/.tencentcloud/credentials (HOME not set)");
            return false;
        }
        std::string text, why;
        bool absent = false;
        if (!read_small_file(path, "credentials file", text, why, &absent)) {
            if (!absent) {
                out = fail(client_errc::credentials_invalid, std::move(why), ec, diag);
                return true;
            }
            if (must_exist) {
                out = fail(client_errc::credentials_invalid,
                           origin + path + " does not exist" +
                               (named_profile ? " (profile " + quoted(opts.profile) + " was asked for)" : ""),
                           ec, diag);
                return true;
            }
            out.looked.push_back(origin + path + " (not found)");
            return false;
        }
        auto cfg = resolve_profile(text, opts.profile, path, ec, diag);
        wipe_secret(text);
        if (ec && !named_profile && diag.client_message.rfind("profile \"default\" not found in ", 0) == 0) {
            // The default profile is looked for, not asked for: a file of
            // named profiles only is skipped (the chain goes on to TKE OIDC
            // and the CVM role), as the official SDKs' chains do.
            ec = {};
            diag = {};
            out.looked.push_back(origin + path + " (no [default] profile)");
            return false;
        }
        if (ec) {
            out = {};
            return true;
        }
        out.warning = credentials_file_permission_warning(path);
        out.what = cfg.has_role() ? static_lookup::role : static_lookup::keys;
        out.creds = std::move(cfg.keys);  // the secret is held once, in creds
        cfg.keys = {};
        cfg.keys.source = out.creds.source;
        out.profile = std::move(cfg);
        return true;
    };

    // 2. A profile named explicitly wins over the environment (as with
    // aws-cli and tccli): asking for one and getting other credentials would
    // act on the wrong account.
    if (named_profile) {
        from_file();
        return out;
    }

    // 3. Environment.
    if (opts.use_environment) {
        credentials c;
        c.secret_id = env(env_id);
        c.secret_key = env(env_key);
        c.token = env(env_token);
        if (!c.secret_id.empty() && !c.secret_key.empty()) {
            c.source = "environment";
            out.what = static_lookup::keys;
            out.creds = std::move(c);
            return out;
        }
        if (!c.secret_id.empty() || !c.secret_key.empty() || !c.token.empty()) {
            std::string msg = "incomplete credentials in the environment: ";
            if (!c.secret_id.empty())
                msg += std::string(env_id) + " is set (" + c.secret_id + ") but " + std::string(env_key) + " is not";
            else if (!c.secret_key.empty())
                msg += std::string(env_key) + " is set but " + std::string(env_id) + " is not";
            else
                msg += std::string(env_token) + " is set but " + std::string(env_id) + " and " + std::string(env_key) +
                       " are not";
            wipe_secret(c.secret_key);
            wipe_secret(c.token);
            return fail(client_errc::credentials_invalid, std::move(msg), ec, diag);
        }
        out.looked.push_back("environment " + std::string(env_id) + "/" + std::string(env_key) + " (not set)");
    } else {
        out.looked.emplace_back("environment (disabled)");
    }

    // 4. The default profile.
    from_file();
    return out;
}

}  // namespace detail

credentials resolve_credentials(const credentials_options& opts, error_code& ec, diagnostics& diag) {
    auto found = detail::lookup_static_credentials(opts, ec, diag);
    if (ec) return {};
    switch (found.what) {
        case detail::static_lookup::keys:
            diag.client_message = std::move(found.warning);
            return std::move(found.creds);
        case detail::static_lookup::role:
            detail::wipe_secret(found.creds.secret_key);
            detail::wipe_secret(found.creds.token);
            ec = make_error_code(client_errc::credentials_invalid);
            diag.client_message = found.creds.source + " assumes role " + found.profile.role_arn +
                                  ": its keys sign the STS AssumeRole call, not API calls; use the default "
                                  "credential chain (client_params::from_env, make_default_credential_chain)";
            return {};
        case detail::static_lookup::none:
            break;
    }
    ec = make_error_code(client_errc::credentials_missing);
    diag.client_message = "looked in: " + detail::join_looked(found.looked);
    return {};
}

credentials resolve_credentials(const credentials_options& opts) {
    error_code ec;
    diagnostics diag;
    auto c = resolve_credentials(opts, ec, diag);
    if (ec) throw error(ec, std::move(diag));
    return c;
}

}  // namespace cbs
