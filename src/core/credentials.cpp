// The credentials file: reading it safely and parsing its INI profiles (keys
// and role fields). Resolution order: src/core/credential_static.cpp.
#include <cbs/credentials.hpp>
#include <cbs/detail/credential_sources.hpp>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <string>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cbs {
using detail::quoted;
namespace {

constexpr std::size_t max_file_size = 1 << 20;     // a credentials file is a few hundred bytes
constexpr long long max_duration_seconds = 43200;  // STS AssumeRole's upper bound (12 h)

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

profile_config fail(client_errc e, std::string message, error_code& ec, diagnostics& diag) {
    ec = make_error_code(e);
    diag.client_message = std::move(message);
    return {};
}

}  // namespace

namespace detail {

std::string quoted(std::string_view s) {
    // Appended piecewise: GCC 12 at -O3 warns falsely (-Wrestrict) on "x" + std::string(s).
    std::string out;
    out.reserve(s.size() + 2);
    out += '"';
    out += s;
    out += '"';
    return out;
}

void wipe_secret(std::string& s) noexcept {
    volatile char* p = s.data();
    for (std::size_t i = 0; i < s.size(); ++i) p[i] = 0;
    s.clear();
}

bool read_small_file(const std::string& path, std::string_view noun, std::string& out, std::string& why, bool* absent) {
    const std::string named = std::string(noun) + " " + path;
    if (absent) *absent = false;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        if (absent && (err == ENOENT || err == ENOTDIR)) *absent = true;
        why = "cannot open " + named + ": " + std::generic_category().message(err);
        return false;
    }
    struct ::stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        why = named + " is not a regular file";
        return false;
    }
    if (static_cast<std::size_t>(st.st_size) > max_file_size) {
        ::close(fd);
        why = named + " is too large (" + std::to_string(st.st_size) + " bytes)";
        return false;
    }
    out.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < out.size()) {
        const auto n = ::read(fd, out.data() + got, out.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            wipe_secret(out);
            why = "cannot read " + named + ": " + std::generic_category().message(err);
            return false;
        }
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    ::close(fd);
    out.resize(got);
    return true;
}

}  // namespace detail

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

profile_config parse_profile(std::string_view text, std::string_view profile, std::string_view source_name,
                             error_code& ec, diagnostics& diag) {
    ec.clear();
    const std::string_view want = profile.empty() ? std::string_view("default") : profile;
    const std::string src(source_name);
    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 BOM

    profile_config out;
    struct wipe_unless_kept {  // partial secrets of a failed parse are wiped
        credentials& c;
        bool keep = false;
        ~wipe_unless_kept() {
            if (!keep) {
                detail::wipe_secret(c.secret_key);
                detail::wipe_secret(c.token);
            }
        }
    } guard{out.keys};
    bool in_wanted = false, found = false, in_any = false;
    std::string duration_text;
    bool has_duration = false, has_session = false;
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
            out.keys.secret_id.assign(value);
        else if (key == "secret_key")
            out.keys.secret_key.assign(value);
        else if (key == "token")
            out.keys.token.assign(value);
        else if (key == "role_arn")
            out.role_arn.assign(value);
        else if (key == "role_session_name") {
            out.role_session_name.assign(value);
            has_session = true;
        } else if (key == "duration_seconds") {
            duration_text.assign(value);
            has_duration = true;
        } else if (key == "source_profile")
            out.source_profile.assign(value);
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
    const bool any_key = !out.keys.secret_id.empty() || !out.keys.secret_key.empty() || !out.keys.token.empty();
    if (!out.source_profile.empty()) {
        if (out.role_arn.empty())
            return fail(client_errc::credentials_invalid, what + " has source_profile but no role_arn to assume", ec,
                        diag);
        if (any_key)
            return fail(client_errc::credentials_invalid,
                        what + " has both keys and source_profile: keep one (the keys that sign AssumeRole)", ec, diag);
    } else {
        const std::string role_hint = out.role_arn.empty() ? "" : " (role_arn needs keys or a source_profile)";
        if (out.keys.secret_id.empty() && out.keys.secret_key.empty())
            return fail(client_errc::credentials_invalid, what + " has no secret_id and no secret_key" + role_hint, ec,
                        diag);
        if (out.keys.secret_key.empty())
            return fail(client_errc::credentials_invalid,
                        what + " has secret_id " + out.keys.secret_id + " but no secret_key", ec, diag);
        if (out.keys.secret_id.empty())
            return fail(client_errc::credentials_invalid, what + " has secret_key but no secret_id", ec, diag);
    }
    if (out.role_arn.empty() && (has_session || has_duration))
        return fail(client_errc::credentials_invalid,
                    what + " has " + (has_session ? "role_session_name" : "duration_seconds") + " but no role_arn", ec,
                    diag);
    if (has_duration) {
        long long n = 0;
        const auto* b = duration_text.data();
        const auto* e = b + duration_text.size();
        auto [p, perr] = std::from_chars(b, e, n);
        if (perr != std::errc{} || p != e || n < 1 || n > max_duration_seconds)
            return fail(client_errc::credentials_invalid,
                        what + ": duration_seconds must be a whole number of seconds in 1..43200", ec, diag);
        out.duration = std::chrono::seconds(n);
    }
    out.keys.source = what;
    guard.keep = true;
    return out;
}

profile_config resolve_profile(std::string_view text, std::string_view profile, std::string_view source_name,
                               error_code& ec, diagnostics& diag) {
    auto cfg = parse_profile(text, profile, source_name, ec, diag);
    if (ec || cfg.source_profile.empty()) return cfg;
    auto src = parse_profile(text, cfg.source_profile, source_name, ec, diag);
    if (ec) {
        diag.client_message =
            cfg.keys.source + " names source_profile " + quoted(cfg.source_profile) + ": " + diag.client_message;
        return {};
    }
    if (src.has_role()) {
        detail::wipe_secret(src.keys.secret_key);
        detail::wipe_secret(src.keys.token);
        return fail(client_errc::credentials_invalid,
                    cfg.keys.source + " names source_profile " + quoted(cfg.source_profile) +
                        ", which assumes a role of its own: roles are not chained; give the source profile keys only",
                    ec, diag);
    }
    const auto what = cfg.keys.source;
    cfg.keys = std::move(src.keys);
    cfg.keys.source = what + " (keys of profile " + quoted(cfg.source_profile) + ")";
    return cfg;
}

credentials parse_credentials_file(std::string_view text, std::string_view profile, std::string_view source_name,
                                   error_code& ec, diagnostics& diag) {
    auto cfg = parse_profile(text, profile, source_name, ec, diag);
    if (!ec && cfg.keys.secret_id.empty()) {
        // A profile whose keys are another profile's (source_profile): it has
        // none of its own to return.
        ec = make_error_code(client_errc::credentials_invalid);
        diag.client_message = cfg.keys.source + " has no secret_id and no secret_key (it uses source_profile " +
                              quoted(cfg.source_profile) + ")";
        return {};
    }
    return std::move(cfg.keys);
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
