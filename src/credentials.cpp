// Credential resolution: explicit → named profile → environment → default profile.
#include <cbs/credentials.hpp>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cbs {
namespace {

constexpr std::string_view env_id = "TENCENTCLOUD_SECRET_ID";
constexpr std::string_view env_key = "TENCENTCLOUD_SECRET_KEY";
constexpr std::string_view env_token = "TENCENTCLOUD_SESSION_TOKEN";
constexpr std::string_view env_file = "TENCENTCLOUD_CREDENTIALS_FILE";
constexpr std::size_t max_file_size = 1 << 20;  // a credentials file is a few hundred bytes

std::string_view trim(std::string_view s) noexcept {
    constexpr std::string_view ws = " \t\r\f\v";
    const auto b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) return {};
    const auto e = s.find_last_not_of(ws);
    return s.substr(b, e - b + 1);
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

/// Best-effort wipe of a buffer that held a secret (not optimised away).
void wipe(std::string& s) noexcept {
    volatile char* p = s.data();
    for (std::size_t i = 0; i < s.size(); ++i) p[i] = 0;
    s.clear();
}

std::string quoted(std::string_view s) {
    // Appended piecewise: GCC 12 at -O3 warns falsely (-Wrestrict) on "x" + std::string(s).
    std::string out;
    out.reserve(s.size() + 2);
    out += '"';
    out += s;
    out += '"';
    return out;
}

credentials fail(client_errc e, std::string message, error_code& ec, diagnostics& diag) {
    ec = make_error_code(e);
    diag.client_message = std::move(message);
    return {};
}

/// Outcome of reading a file: its text, or "absent", or an error message.
struct file_read {
    enum { ok, absent, error } status = error;
    std::string text;
    std::string message;  // for `error`
};

file_read read_file(const std::string& path) {
    file_read r;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        if (err == ENOENT || err == ENOTDIR) {
            r.status = file_read::absent;
        } else {
            r.message = "cannot open credentials file " + path + ": " + std::generic_category().message(err);
        }
        return r;
    }
    struct ::stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        r.message = "credentials file " + path + " is not a regular file";
        return r;
    }
    if (static_cast<std::size_t>(st.st_size) > max_file_size) {
        ::close(fd);
        r.message = "credentials file " + path + " is too large (" + std::to_string(st.st_size) + " bytes)";
        return r;
    }
    r.text.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < r.text.size()) {
        const auto n = ::read(fd, r.text.data() + got, r.text.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            wipe(r.text);
            r.message = "cannot read credentials file " + path + ": " + std::generic_category().message(err);
            return r;
        }
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    ::close(fd);
    r.text.resize(got);
    r.status = file_read::ok;
    return r;
}

}  // namespace

std::string credentials::redacted() const {
    std::string out;
    if (secret_id.empty())
        out = "(no secret id)";
    else if (secret_id.size() <= 12)
        out = secret_id;
    else
        out = secret_id.substr(0, 8) + "..." + secret_id.substr(secret_id.size() - 4);
    out += " (secret key hidden";
    if (temporary()) out += ", temporary";
    out += ")";
    return out;
}

credentials parse_credentials_file(std::string_view text, std::string_view profile, std::string_view source_name,
                                   error_code& ec, diagnostics& diag) {
    ec.clear();
    const std::string_view want = profile.empty() ? std::string_view("default") : profile;
    const std::string src(source_name);
    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 BOM

    credentials out;
    struct wipe_unless_kept {  // partial secrets of a failed parse are wiped
        credentials& c;
        bool keep = false;
        ~wipe_unless_kept() {
            if (!keep) {
                wipe(c.secret_key);
                wipe(c.token);
            }
        }
    } guard{out};
    bool in_wanted = false, found = false, in_any = false;
    std::vector<std::string> sections;
    std::size_t line_no = 0;
    while (!text.empty()) {
        ++line_no;
        const auto nl = text.find('\n');
        const auto raw = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        const auto line = trim(raw);
        const auto where = src + ":" + std::to_string(line_no) + ": ";
        if (line.empty() || line.front() == '#' || line.front() == ';') continue;
        if (line.front() == '[') {
            if (line.back() != ']' || line.size() < 3 || trim(line.substr(1, line.size() - 2)).empty())
                return fail(client_errc::credentials_invalid, where + "malformed section header (expected [name])", ec,
                            diag);
            const auto name = trim(line.substr(1, line.size() - 2));
            in_any = true;
            in_wanted = (name == want);
            found = found || in_wanted;
            if (sections.size() < 20) sections.emplace_back(name);
            continue;
        }
        const auto eq = line.find('=');
        if (eq == std::string_view::npos)
            return fail(client_errc::credentials_invalid, where + "malformed line (expected key = value)", ec, diag);
        const auto key = lower(trim(line.substr(0, eq)));
        if (key.empty()) return fail(client_errc::credentials_invalid, where + "malformed line (empty key)", ec, diag);
        if (!in_any)
            return fail(client_errc::credentials_invalid, where + "key = value line outside of any [section]", ec,
                        diag);
        if (!in_wanted) continue;
        const auto value = trim(line.substr(eq + 1));
        if (key == "secret_id")
            out.secret_id.assign(value);
        else if (key == "secret_key")
            out.secret_key.assign(value);
        else if (key == "token")
            out.token.assign(value);
    }

    const auto what = "profile " + quoted(want) + " in " + src;
    if (!found) {
        std::string msg = "profile " + quoted(want) + " not found in " + src;
        if (sections.empty()) {
            msg += " (the file has no sections)";
        } else {
            msg += " (sections:";
            for (const auto& s : sections) msg += " [" + s + "]";
            msg += ")";
        }
        return fail(client_errc::credentials_invalid, std::move(msg), ec, diag);
    }
    if (out.secret_id.empty() && out.secret_key.empty())
        return fail(client_errc::credentials_invalid, what + " has no secret_id and no secret_key", ec, diag);
    if (out.secret_key.empty())
        return fail(client_errc::credentials_invalid, what + " has secret_id " + out.secret_id + " but no secret_key",
                    ec, diag);
    if (out.secret_id.empty())
        return fail(client_errc::credentials_invalid, what + " has secret_key but no secret_id", ec, diag);
    out.source = what;
    guard.keep = true;
    return out;
}

credentials resolve_credentials(const credentials_options& opts, error_code& ec, diagnostics& diag) {
    ec.clear();
    diag.clear();
    const auto env = [&](std::string_view name) -> std::string {
        const std::string n(name);
        const char* v = opts.getenv ? opts.getenv(n.c_str()) : std::getenv(n.c_str());
        return v ? std::string(v) : std::string();
    };
    std::vector<std::string> looked;

    // 1. Explicit.
    if (opts.explicit_credentials) {
        credentials c = *opts.explicit_credentials;
        if (c.secret_id.empty() || c.secret_key.empty())
            return fail(
                client_errc::credentials_invalid,
                std::string("explicit credentials have an empty ") + (c.secret_id.empty() ? "secret_id" : "secret_key"),
                ec, diag);
        if (c.source.empty()) c.source = "explicit";
        return c;
    }
    looked.emplace_back("explicit credentials (not set)");

    // The profile file (step 2 for a named profile, else step 4).
    const bool named_profile = !opts.profile.empty();
    const auto from_file = [&](credentials& out) -> bool {  // true: done (found or failed)
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
            looked.emplace_back("$HOME/.tencentcloud/credentials (HOME not set)");
            return false;
        }
        auto file = read_file(path);
        if (file.status == file_read::error) {
            out = fail(client_errc::credentials_invalid, std::move(file.message), ec, diag);
            return true;
        }
        if (file.status == file_read::absent) {
            if (must_exist) {
                out = fail(client_errc::credentials_invalid,
                           origin + path + " does not exist" +
                               (named_profile ? " (profile " + quoted(opts.profile) + " was asked for)" : ""),
                           ec, diag);
                return true;
            }
            looked.push_back(origin + path + " (not found)");
            return false;
        }
        out = parse_credentials_file(file.text, opts.profile, path, ec, diag);
        wipe(file.text);
        if (!ec) diag.client_message = credentials_file_permission_warning(path);
        return true;
    };

    // 2. A profile named explicitly wins over the environment (as with
    // aws-cli and tccli): asking for one and getting other credentials would
    // act on the wrong account.
    if (named_profile) {
        credentials c;
        from_file(c);
        return c;
    }

    // 3. Environment.
    if (opts.use_environment) {
        credentials c;
        c.secret_id = env(env_id);
        c.secret_key = env(env_key);
        c.token = env(env_token);
        if (!c.secret_id.empty() && !c.secret_key.empty()) {
            c.source = "environment";
            return c;
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
            wipe(c.secret_key);
            wipe(c.token);
            return fail(client_errc::credentials_invalid, std::move(msg), ec, diag);
        }
        looked.push_back("environment " + std::string(env_id) + "/" + std::string(env_key) + " (not set)");
    } else {
        looked.emplace_back("environment (disabled)");
    }

    // 4. The default profile.
    if (credentials c; from_file(c)) return c;

    std::string msg = "looked in: ";
    for (std::size_t i = 0; i < looked.size(); ++i) {
        if (i) msg += "; ";
        msg += looked[i];
    }
    return fail(client_errc::credentials_missing, std::move(msg), ec, diag);
}

credentials resolve_credentials(const credentials_options& opts) {
    error_code ec;
    diagnostics diag;
    auto c = resolve_credentials(opts, ec, diag);
    if (ec) throw error(ec, std::move(diag));
    return c;
}

std::string credentials_file_permission_warning(const std::string& path) {
    struct ::stat st {};
    if (::stat(path.c_str(), &st) != 0) return {};
    const unsigned mode = static_cast<unsigned>(st.st_mode) & 0777u;
    if ((mode & 077u) == 0) return {};
    char octal[8];
    octal[0] = '0';
    octal[1] = static_cast<char>('0' + ((mode >> 6) & 7u));
    octal[2] = static_cast<char>('0' + ((mode >> 3) & 7u));
    octal[3] = static_cast<char>('0' + (mode & 7u));
    octal[4] = '\0';
    return "credentials file " + path + " is accessible by group/others (mode " + octal + "); run: chmod 600 " + path;
}

}  // namespace cbs
