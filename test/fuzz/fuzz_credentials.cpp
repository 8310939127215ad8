// libFuzzer target: the credentials file (INI) parser.
//
// Input: the text of a credentials file. It is parsed for the profiles
// "default" and "prod". Checked: a success has a SecretId and a SecretKey; a
// failure is credentials_invalid with a message; and no message or
// redacted() string depends on the secret values: the same text with every
// secret_key/token value replaced by a different string of the same length
// gives the very same messages (so no message can leak the secret key).
#include "fuzz_common.hpp"

#include <cbs/credentials.hpp>
#include <cbs/error.hpp>

using cbs_fuzz::as_view;

namespace {

std::string_view trim_ini(std::string_view s) {
    constexpr std::string_view ws = " \t\r\f\v";
    const auto b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) return {};
    return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

bool is_secret_key_name(std::string_view k) {
    std::string l(k);
    for (auto& c : l)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return l == "secret_key" || l == "token";
}

/// `text` with the value of every secret_key / token line changed (same
/// length, every byte different), the line structure untouched.
std::string mask_secrets(std::string_view text) {
    std::string out(text);
    std::size_t pos = 0;
    while (pos <= out.size()) {
        auto nl = out.find('\n', pos);
        if (nl == std::string::npos) nl = out.size();
        const std::string_view raw(out.data() + pos, nl - pos);
        const auto line = trim_ini(raw);
        const auto eq = line.find('=');
        if (!line.empty() && line.front() != '#' && line.front() != ';' && line.front() != '[' &&
            eq != std::string_view::npos && is_secret_key_name(trim_ini(line.substr(0, eq)))) {
            const auto value = trim_ini(line.substr(eq + 1));
            const auto off = static_cast<std::size_t>(value.data() - out.data());
            for (std::size_t i = 0; i < value.size(); ++i) out[off + i] = out[off + i] == 'x' ? 'y' : 'x';
        }
        pos = nl + 1;
    }
    return out;
}

struct outcome {
    cbs::credentials creds;
    cbs::error_code ec;
    std::string message;
};

outcome parse(std::string_view text, std::string_view profile) {
    outcome o;
    cbs::diagnostics diag;
    o.creds = cbs::parse_credentials_file(text, profile, "fuzz.ini", o.ec, diag);
    o.message = diag.client_message;
    if (o.ec) {
        FUZZ_CHECK(o.ec == cbs::make_error_code(cbs::client_errc::credentials_invalid));
        FUZZ_CHECK(!o.message.empty());
        FUZZ_CHECK(o.creds.secret_id.empty() && o.creds.secret_key.empty() && o.creds.token.empty());
    } else {
        FUZZ_CHECK(!o.creds.secret_id.empty());
        FUZZ_CHECK(!o.creds.secret_key.empty());
        FUZZ_CHECK(!o.creds.source.empty());
    }
    return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 64 * 1024) return 0;  // real files are tiny; keep executions fast
    const auto text = as_view(data, size);
    const auto masked = mask_secrets(text);
    for (std::string_view profile : {std::string_view(""), std::string_view("prod")}) {
        const auto a = parse(text, profile);
        const auto b = parse(masked, profile);
        FUZZ_CHECK(a.ec == b.ec);
        FUZZ_CHECK(a.message == b.message);  // no message depends on a secret value
        if (!a.ec) {
            FUZZ_CHECK(a.creds.secret_id == b.creds.secret_id);
            FUZZ_CHECK(a.creds.secret_key.size() == b.creds.secret_key.size());
            FUZZ_CHECK(a.creds.redacted() == b.creds.redacted());
            FUZZ_CHECK(a.creds.source == b.creds.source);
        }
    }
    return 0;
}
