// TC3-HMAC-SHA256 verification (see auth.hpp for the checks and their order).
#include <cbs/emulator/auth.hpp>

#include <algorithm>
#include <stdexcept>

namespace cbs::emu {
namespace {

constexpr std::string_view algorithm_name = "TC3-HMAC-SHA256";

char lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool is_date(std::string_view d) noexcept {
    if (d.size() != 10 || d[4] != '-' || d[7] != '-') return false;
    for (std::size_t i : {0u, 1u, 2u, 3u, 5u, 6u, 8u, 9u})
        if (d[i] < '0' || d[i] > '9') return false;
    return true;
}

bool is_header_name(std::string_view n) noexcept {
    if (n.empty()) return false;
    return std::all_of(n.begin(), n.end(),
                       [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'; });
}

bool is_lower_hex(std::string_view s) noexcept {
    return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// At most `n` bytes of `s`, without cutting a UTF-8 sequence in two (the
// message ends up in a JSON answer).
std::string clip(std::string_view s, std::size_t n) {
    if (s.size() <= n) return std::string(s);
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    return std::string(s.substr(0, n));
}

api_failure invalid_authorization(std::string_view why) {
    return {"AuthFailure.InvalidAuthorization",
            "The request `Authorization` header does not conform to tencentcloud standards: " + std::string(why) + "."};
}

api_failure signature_failure(std::string_view detail = {}) {
    std::string m = "The provided credentials could not be validated. Please check your signature is correct.";
    if (!detail.empty()) m += " (" + std::string(detail) + ")";
    return {"AuthFailure.SignatureFailure", std::move(m)};
}

}  // namespace

std::vector<account> parse_accounts(std::string_view text) {
    std::vector<account> out;
    std::size_t number = 0;
    auto bad = [&](const std::string& what) {
        throw std::invalid_argument("credentials entry " + std::to_string(number) + ": " + what);
    };
    while (!text.empty()) {
        const auto end = text.find_first_of(",\n");
        std::string_view entry = trim(text.substr(0, end));
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
        if (!entry.empty() && entry.back() == '\r') entry = trim(entry.substr(0, entry.size() - 1));
        if (entry.empty() || entry.front() == '#') continue;
        ++number;
        account a;
        const auto colon = entry.find(':');
        if (colon == std::string_view::npos) bad("expected [UIN/]SECRET_ID:SECRET_KEY[:TOKEN]");
        std::string_view id = entry.substr(0, colon), rest = entry.substr(colon + 1);
        if (const auto slash = id.find('/'); slash != std::string_view::npos) {
            a.uin = std::string(id.substr(0, slash));
            id = id.substr(slash + 1);
            if (a.uin.empty()) bad("empty UIN before '/'");
        }
        if (id.empty()) bad("empty SecretId");
        a.secret_id = std::string(id);
        const auto colon2 = rest.find(':');
        a.secret_key = std::string(rest.substr(0, colon2));
        if (colon2 != std::string_view::npos) {
            a.token = std::string(rest.substr(colon2 + 1));
            if (a.token.empty()) bad("empty token after the second ':' (SecretId " + clip(a.secret_id, 40) + ")");
        }
        if (a.secret_key.empty()) bad("empty SecretKey (SecretId " + clip(a.secret_id, 40) + ")");
        auto has_space = [](std::string_view v) { return v.find_first_of(" \t") != std::string_view::npos; };
        if (has_space(a.secret_id) || has_space(a.secret_key) || has_space(a.token) || has_space(a.uin))
            bad("spaces inside an entry (SecretId " + clip(a.secret_id, 40) + ")");
        for (const auto& prev : out)
            if (prev.secret_id == a.secret_id) bad("SecretId " + clip(a.secret_id, 40) + " given twice");
        out.push_back(std::move(a));
    }
    return out;
}

std::optional<std::string_view> find_header(std::span<const http_header> headers, std::string_view name) noexcept {
    for (const auto& h : headers)
        if (iequals(h.name, name)) return h.value;
    return std::nullopt;
}

std::optional<parsed_authorization> parse_authorization(std::string_view value, std::string& why) {
    value = trim(value);
    const auto sp = value.find(' ');
    if (sp == std::string_view::npos) {
        why = "expected `TC3-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`";
        return std::nullopt;
    }
    parsed_authorization out;
    out.algorithm = std::string(value.substr(0, sp));
    if (out.algorithm != algorithm_name) {
        why = "unsupported algorithm `" + clip(out.algorithm, 40) + "`";
        return std::nullopt;
    }
    bool have_cred = false, have_sh = false, have_sig = false;
    std::string_view rest = value.substr(sp + 1);
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        std::string_view part = trim(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        if (comma != std::string_view::npos && trim(rest).empty()) {
            why = "trailing comma";
            return std::nullopt;
        }
        const auto eq = part.find('=');
        if (eq == std::string_view::npos) {
            why = "expected key=value, got `" + clip(part, 40) + "`";
            return std::nullopt;
        }
        const std::string_view key = part.substr(0, eq), val = part.substr(eq + 1);
        if (key == "Credential") {
            if (have_cred) return why = "`Credential` given twice", std::nullopt;
            have_cred = true;
            std::string_view parts[4];
            std::string_view c = val;
            for (int i = 0; i < 4; ++i) {
                const auto slash = c.find('/');
                if ((slash == std::string_view::npos) != (i == 3)) {
                    why = "`Credential` must be SecretId/Date/Service/tc3_request";
                    return std::nullopt;
                }
                parts[i] = c.substr(0, slash);
                if (slash != std::string_view::npos) c = c.substr(slash + 1);
            }
            out.secret_id = std::string(parts[0]);
            out.date = std::string(parts[1]);
            out.service = std::string(parts[2]);
            out.terminator = std::string(parts[3]);
            if (out.secret_id.empty()) return why = "`SecretId` in Credential is empty", std::nullopt;
            if (!is_date(out.date)) return why = "`Date` in Credential not valid", std::nullopt;
            if (out.terminator != "tc3_request") return why = "`Credential` must end with tc3_request", std::nullopt;
        } else if (key == "SignedHeaders") {
            if (have_sh) return why = "`SignedHeaders` given twice", std::nullopt;
            have_sh = true;
            std::string_view s = val;
            for (;;) {
                const auto semi = s.find(';');
                const std::string_view name = s.substr(0, semi);
                if (!is_header_name(name)) return why = "`SignedHeaders` not valid", std::nullopt;
                if (!out.signed_headers.empty() && !(out.signed_headers.back() < name))
                    return why = "`SignedHeaders` must be sorted and unique", std::nullopt;
                out.signed_headers.emplace_back(name);
                if (semi == std::string_view::npos) break;
                s = s.substr(semi + 1);
            }
            auto has = [&](std::string_view n) {
                return std::find(out.signed_headers.begin(), out.signed_headers.end(), n) != out.signed_headers.end();
            };
            if (!has("content-type") || !has("host"))
                return why = "`SignedHeaders` must include content-type and host", std::nullopt;
        } else if (key == "Signature") {
            if (have_sig) return why = "`Signature` given twice", std::nullopt;
            have_sig = true;
            if (val.size() != 64 || !is_lower_hex(val))
                return why = "`Signature` must be 64 lowercase hex digits", std::nullopt;
            out.signature = std::string(val);
        } else {
            why = "unknown field `" + clip(key, 40) + "`";
            return std::nullopt;
        }
    }
    if (!have_cred) return why = "`Credential` is missing", std::nullopt;
    if (!have_sh) return why = "`SignedHeaders` is missing", std::nullopt;
    if (!have_sig) return why = "`Signature` is missing", std::nullopt;
    return out;
}

auth_outcome verify_tc3(const auth_input& in, std::span<const account> accounts, tc3_signer& signer) {
    return verify_tc3_with(
        in,
        [accounts](std::string_view id) -> const account* {
            for (const auto& a : accounts)
                if (a.secret_id == id) return &a;
            return nullptr;
        },
        signer);
}

auth_outcome verify_tc3_with(const auth_input& in, const account_lookup& find, tc3_signer& signer) {
    auth_outcome out;
    const auto authz = find_header(in.headers, "Authorization");
    if (!authz || trim(*authz).empty()) {
        out.error = invalid_authorization("`Authorization` header is missing");
        return out;
    }
    std::string why;
    auto parsed = parse_authorization(*authz, why);
    if (!parsed) {
        out.error = invalid_authorization(why);
        return out;
    }
    out.secret_id = parsed->secret_id;

    // Every signed header must be in the request.
    std::vector<tc3_header> extra;
    std::string_view host, content_type;
    for (const auto& name : parsed->signed_headers) {
        auto v = find_header(in.headers, name);
        if (!v) {
            out.error = invalid_authorization("signed header `" + name + "` is not in the request");
            return out;
        }
        if (name == "host")
            host = *v;
        else if (name == "content-type")
            content_type = *v;
        else
            extra.push_back({name, *v});
    }

    if (parsed->service != in.service) {
        out.error = invalid_authorization("`Service` in Credential not valid");
        return out;
    }

    const std::int64_t skew = in.now > in.timestamp ? in.now - in.timestamp : in.timestamp - in.now;
    if (skew > in.max_skew.count()) {
        out.error = api_failure{"AuthFailure.SignatureExpire",
                                "Request timestamp " + std::string(in.timestamp_text) + " is more than " +
                                    std::to_string(in.max_skew.count()) + " seconds away from server time " +
                                    std::to_string(in.now) + "; signature expired."};
        return out;
    }

    const account* acct = find ? find(parsed->secret_id) : nullptr;
    if (!acct) {
        out.error = api_failure{"AuthFailure.SecretIdNotFound",
                                "The SecretId is not found, please ensure that your SecretId is correct."};
        return out;
    }

    if (parsed->date != detail::utc_date(in.timestamp)) {
        out.error = signature_failure("the credential date is not the UTC date of X-TC-Timestamp");
        return out;
    }

    tc3_request req;
    req.secret_id = acct->secret_id;
    req.secret_key = acct->secret_key;
    req.service = parsed->service;
    req.host = host;
    req.content_type = content_type;
    const auto unsigned_payload = find_header(in.headers, "X-TC-Content-SHA256");
    req.payload =
        (unsigned_payload && *unsigned_payload == "UNSIGNED-PAYLOAD") ? std::string_view("UNSIGNED-PAYLOAD") : in.body;
    req.timestamp = in.timestamp;
    req.method = in.method;
    const auto q = in.target.find('?');
    req.canonical_uri = in.target.substr(0, q);
    req.canonical_query = q == std::string_view::npos ? std::string_view{} : in.target.substr(q + 1);
    req.extra_signed_headers = extra;
    std::string expected;
    try {
        expected = signer.signature(req);
    } catch (const std::invalid_argument&) {
        out.error = invalid_authorization("`SignedHeaders` not valid");
        return out;
    }
    // The string to sign holds the timestamp as the client sent it; the
    // signer writes the canonical decimal form, so any other spelling fails.
    if (in.timestamp_text != std::to_string(in.timestamp) ||
        !detail::constant_time_equal(expected, parsed->signature)) {
        out.error = signature_failure();
        return out;
    }

    const auto token = find_header(in.headers, "X-TC-Token");
    if (!acct->token.empty()) {
        if (!token || token->size() != acct->token.size() || !detail::constant_time_equal(*token, acct->token)) {
            out.error = api_failure{
                "AuthFailure.TokenFailure",
                token ? "The token is invalid." : "The token is missing (X-TC-Token) for temporary credentials."};
            return out;
        }
    } else if (token && !token->empty()) {
        out.error = api_failure{"AuthFailure.TokenFailure", "A token (X-TC-Token) was sent with a permanent SecretId."};
        return out;
    }
    return out;
}

}  // namespace cbs::emu
