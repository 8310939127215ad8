// Helpers shared by the libFuzzer targets of test/fuzz (see README.md there).
#pragma once

#include <cbs/emulator/auth.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace cbs_fuzz {

/// An invariant of the code under test. A violation aborts, which libFuzzer
/// reports as a crash and saves the input (crash-<sha1>).
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                          \
        }                                                                                          \
    } while (0)

inline std::string_view as_view(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

/// True if `s` is well-formed UTF-8 (what a JSON parser accepts in strings).
inline bool is_valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else
            return false;
        if (i + n >= s.size()) return false;  // truncated sequence
        for (std::size_t k = 1; k <= n; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        i += n + 1;
    }
    return true;
}

inline bool contains(std::string_view hay, std::string_view needle) {
    return !needle.empty() && hay.find(needle) != std::string_view::npos;
}

/// A request as the fuzz input frames it:
///
///     POST /?Query=1          request line: METHOD SP TARGET (anything after a second space ignored)
///     Header-Name: value      header lines ("Name: value"; the value is trimmed of spaces/tabs)
///     ...                     lines without ':' are skipped
///                             an empty line ends the headers ("\n\n", or "\r\n\r\n")
///     body bytes              everything after, byte for byte
///
/// Lines may end in "\n" or "\r\n". Views point into the input.
struct framed_request {
    std::string_view method, target, body;
    std::vector<cbs::emu::http_header> headers;
};

inline std::string_view trim_ws(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

inline framed_request split_request(std::string_view in) {
    framed_request r;
    auto next_line = [&in](std::string_view& line) {
        const auto nl = in.find('\n');
        line = in.substr(0, nl);
        in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    };
    std::string_view line;
    if (in.empty()) return r;
    next_line(line);
    const auto sp = line.find(' ');
    r.method = line.substr(0, sp);
    if (sp != std::string_view::npos) {
        auto rest = line.substr(sp + 1);
        r.target = rest.substr(0, rest.find(' '));
    }
    while (!in.empty()) {
        next_line(line);
        if (line.empty()) break;
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        r.headers.push_back({line.substr(0, colon), trim_ws(line.substr(colon + 1))});
    }
    r.body = in;
    return r;
}

/// X-TC-Timestamp as the gateway reads it: 1-18 decimal digits.
inline bool parse_timestamp(std::string_view s, std::int64_t& out) {
    if (s.empty() || s.size() > 18) return false;
    std::int64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    out = v;
    return true;
}

/// The accounts the emulator targets accept (the secret keys are checked
/// never to appear in an error message).
inline const std::vector<cbs::emu::account>& fuzz_accounts() {
    static const std::vector<cbs::emu::account> a = {
        {"AKIDfuzzPermanent0000000000000000001", "fuzzSecretKeyPermanent00000000001", ""},
        {"AKIDfuzzTemporary0000000000000000002", "fuzzSecretKeyTemporary00000000002", "fuzzSessionToken0002"},
    };
    return a;
}

/// The small fleet of the fleet_state and gateway targets (seed 1): 4
/// instances, 2 unattached disks, some disks without snapshot ability,
/// migrating or rolling back, a quota of 12 snapshots. Its ids are in the
/// seed corpora and dictionaries.
inline cbs::emu::fleet_params fuzz_fleet() {
    cbs::emu::fleet_params p;
    p.seed = 1;
    p.instances = 4;
    p.unattached_disks = 2;
    p.no_snapshot_ability = 0.25;
    p.migrating = 0.2;
    p.rollbacking = 0.2;
    p.snapshot_quota = 12;
    return p;
}

/// Removes the harness's own header `name` (case-insensitive) from the list;
/// true if it was there.
inline bool take_header(std::vector<cbs::emu::http_header>& headers, std::string_view name) {
    bool found = false;
    for (auto it = headers.begin(); it != headers.end();) {
        if (it->name.size() == name.size() && cbs::emu::find_header({&*it, 1}, name)) {
            it = headers.erase(it);
            found = true;
        } else {
            ++it;
        }
    }
    return found;
}

/// When the input asks for it (header "X-Fuzz-Sign", removed from the
/// request), replaces the Authorization header by one carrying the correct
/// signature for the request, computed as verify_tc3 recomputes it, so that
/// the fuzzer gets past the signature check to the token, action and body
/// checks. The credential date is set to the UTC date of the timestamp too
/// (the service/SecretId/SignedHeaders are kept). `storage` owns the new value. No-op when the Authorization does
/// not parse or names no known account.
inline void maybe_resign(std::vector<cbs::emu::http_header>& headers, std::string_view method, std::string_view target,
                         std::string_view body, std::int64_t timestamp, std::int64_t now, cbs::tc3_signer& signer,
                         std::string& storage) {
    if (!take_header(headers, "X-Fuzz-Sign")) return;
    // Outside the allowed skew verify_tc3 fails before the signature check.
    if (timestamp < now - 300 || timestamp > now + 300) return;
    auto authz = cbs::emu::find_header(headers, "Authorization");
    if (!authz) return;
    std::string why;
    auto parsed = cbs::emu::parse_authorization(*authz, why);
    if (!parsed) return;
    const cbs::emu::account* acct = nullptr;
    for (const auto& a : fuzz_accounts())
        if (a.secret_id == parsed->secret_id) acct = &a;
    if (!acct) return;
    std::vector<cbs::tc3_header> extra;
    cbs::tc3_request req;
    for (const auto& name : parsed->signed_headers) {
        auto v = cbs::emu::find_header(headers, name);
        if (!v) return;
        if (name == "host")
            req.host = *v;
        else if (name == "content-type")
            req.content_type = *v;
        else
            extra.push_back({name, *v});
    }
    req.secret_id = acct->secret_id;
    req.secret_key = acct->secret_key;
    req.service = parsed->service;
    const auto unsigned_payload = cbs::emu::find_header(headers, "X-TC-Content-SHA256");
    req.payload =
        (unsigned_payload && *unsigned_payload == "UNSIGNED-PAYLOAD") ? std::string_view("UNSIGNED-PAYLOAD") : body;
    req.timestamp = timestamp;
    req.method = method;
    const auto q = target.find('?');
    req.canonical_uri = target.substr(0, q);
    req.canonical_query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
    req.extra_signed_headers = extra;
    std::string sig;
    try {
        sig = signer.signature(req);
    } catch (const std::invalid_argument&) {
        return;
    }
    storage = "TC3-HMAC-SHA256 Credential=" + parsed->secret_id + "/" + cbs::detail::utc_date(timestamp) + "/" +
              parsed->service + "/tc3_request, SignedHeaders=";
    for (std::size_t i = 0; i < parsed->signed_headers.size(); ++i)
        storage += (i ? ";" : "") + parsed->signed_headers[i];
    storage += ", Signature=" + sig;
    for (auto& h : headers)
        if (cbs::emu::find_header({&h, 1}, "Authorization")) {
            h.value = storage;
            break;
        }
}

}  // namespace cbs_fuzz
