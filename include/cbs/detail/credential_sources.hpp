// The long-lived credential sources (explicit, named profile, environment,
// default profile) as one lookup that can also report "nothing here" and "a
// profile with a role", for resolve_credentials and the default chain.
// Internal.
#pragma once

#include <cbs/credentials.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace cbs::detail {

struct static_lookup {
    enum kind { keys, role, none } what = none;
    /// keys: the credentials to sign with. role: the keys that sign the
    /// AssumeRole call (the profile's own, or its source_profile's).
    credentials creds;
    /// role: the profile with its role fields.
    profile_config profile;
    /// none: every place looked and why it gave nothing, in order.
    std::vector<std::string> looked;
    /// A loose credentials file mode (see credentials_file_permission_warning).
    std::string warning;
};

/// resolve_credentials' order (see credentials.hpp). A source that is set up
/// wrongly (half-set environment, unreadable or malformed file, a named
/// profile not found) sets `ec` (credentials_invalid) and `diag`; nothing
/// found is not an error (what = none, `looked` filled).
static_lookup lookup_static_credentials(const credentials_options& opts, error_code& ec, diagnostics& diag);

/// "a; b; c".
std::string join_looked(const std::vector<std::string>& looked);

/// `s` in double quotes, for messages naming a profile or a file.
std::string quoted(std::string_view s);

/// The value of an environment variable through `fn` (std::getenv when
/// empty); "" when unset.
std::string read_env(const getenv_function& fn, std::string_view name);

/// Reads a small regular file (at most 1 MiB) whole. Returns false and sets
/// `why` ("cannot open <noun> <path>: ...", never the content) on failure;
/// `absent` tells a missing file apart.
bool read_small_file(const std::string& path, std::string_view noun, std::string& out, std::string& why,
                     bool* absent = nullptr);

/// Best-effort wipe of a buffer that held a secret.
void wipe_secret(std::string& s) noexcept;

}  // namespace cbs::detail
