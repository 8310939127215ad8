// TC3-HMAC-SHA256 signer: OpenSSL 3 EVP implementation with a derived-key cache.
#include <cbs/tc3_signer.hpp>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <stdexcept>
#include <vector>

namespace cbs {
namespace {

constexpr std::size_t digest_len = 32;  // SHA-256
using digest = std::array<unsigned char, digest_len>;
constexpr char hex_digits[] = "0123456789abcdef";
constexpr std::string_view algorithm = "TC3-HMAC-SHA256";

/// Appends the lowercase hex of `n` bytes to `out`.
void append_hex(std::string& out, const unsigned char* p, std::size_t n) {
    const auto old = out.size();
    out.resize(old + 2 * n);
    char* o = out.data() + old;
    for (std::size_t i = 0; i < n; ++i) {
        *o++ = hex_digits[p[i] >> 4];
        *o++ = hex_digits[p[i] & 0x0f];
    }
}

std::string to_hex(const digest& d) {
    std::string s;
    s.reserve(2 * digest_len);
    append_hex(s, d.data(), d.size());
    return s;
}

constexpr char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

void append_lower(std::string& out, std::string_view s) {
    for (char c : s) out.push_back(ascii_lower(c));
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

/// Case-insensitive (ASCII) three-way comparison of header names.
int compare_ci(std::string_view a, std::string_view b) noexcept {
    const auto n = std::min(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i) {
        const auto ca = static_cast<unsigned char>(ascii_lower(a[i]));
        const auto cb = static_cast<unsigned char>(ascii_lower(b[i]));
        if (ca != cb) return ca < cb ? -1 : 1;
    }
    if (a.size() == b.size()) return 0;
    return a.size() < b.size() ? -1 : 1;
}

[[noreturn]] void openssl_failure(const char* what) {
    throw std::runtime_error(std::string("cbs::tc3_signer: OpenSSL failure in ") + what);
}

/// Wipes a key buffer when it goes out of scope.
struct cleanse_guard {
    void* p;
    std::size_t n;
    ~cleanse_guard() { OPENSSL_cleanse(p, n); }
};

}  // namespace

struct tc3_signer::impl {
    EVP_MD* md = nullptr;
    EVP_MAC* mac = nullptr;
    EVP_MD_CTX* md_ctx = nullptr;
    EVP_MAC_CTX* mac_ctx = nullptr;

    // Derived-key cache: a private copy of the secret key (wiped when replaced
    // or destroyed), the date and service it was derived for, and kSigning.
    bool cache_valid = false;
    std::string cached_key;
    std::string cached_date;
    std::string cached_service;
    digest k_signing{};

    // Reusable buffers (keep their capacity between calls).
    struct header_ref {
        std::string_view name;
        std::string_view value;
    };
    std::vector<header_ref> headers;
    // The canonical request up to the payload hash depends only on the method,
    // URI, query and signed headers, which repeat from call to call: it is
    // kept with the inputs it was built from (prefix_inputs) and reused.
    std::string prefix_inputs;
    std::string prefix_probe;
    std::string prefix;
    // An HMAC context keyed with kSigning: re-initialising it without a key
    // reuses the key's inner/outer pads (two SHA-256 blocks saved per call).
    EVP_MAC_CTX* sign_ctx = nullptr;
    std::string canonical;
    std::string signed_headers;
    std::string scope;
    std::string to_sign;

    impl() {
        md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
        mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
        md_ctx = EVP_MD_CTX_new();
        mac_ctx = mac ? EVP_MAC_CTX_new(mac) : nullptr;
        sign_ctx = mac ? EVP_MAC_CTX_new(mac) : nullptr;
        if (!md || !mac || !md_ctx || !mac_ctx || !sign_ctx) {
            release();
            throw std::runtime_error("cbs::tc3_signer: OpenSSL SHA256/HMAC unavailable");
        }
        char digest_name[] = "SHA256";
        const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                                     OSSL_PARAM_construct_end()};
        if (EVP_MAC_CTX_set_params(mac_ctx, params) != 1 || EVP_MAC_CTX_set_params(sign_ctx, params) != 1) {
            release();
            throw std::runtime_error("cbs::tc3_signer: cannot configure HMAC-SHA256");
        }
        headers.reserve(4);
        canonical.reserve(512);
        signed_headers.reserve(64);
        scope.reserve(48);
        to_sign.reserve(160);
    }

    ~impl() {
        wipe_cache();
        release();
    }

    impl(const impl&) = delete;
    impl& operator=(const impl&) = delete;

    void release() noexcept {
        EVP_MAC_CTX_free(mac_ctx);
        EVP_MAC_CTX_free(sign_ctx);
        EVP_MD_CTX_free(md_ctx);
        EVP_MAC_free(mac);
        EVP_MD_free(md);
        mac_ctx = nullptr;
        sign_ctx = nullptr;
        md_ctx = nullptr;
        mac = nullptr;
        md = nullptr;
    }

    void wipe_cache() noexcept {
        OPENSSL_cleanse(cached_key.data(), cached_key.size());
        OPENSSL_cleanse(k_signing.data(), k_signing.size());
        cached_key.clear();
        cache_valid = false;
    }

    void sha256(std::string_view data, digest& out) {
        unsigned int n = 0;
        if (EVP_DigestInit_ex2(md_ctx, md, nullptr) != 1 || EVP_DigestUpdate(md_ctx, data.data(), data.size()) != 1 ||
            EVP_DigestFinal_ex(md_ctx, out.data(), &n) != 1 || n != digest_len)
            openssl_failure("SHA256");
    }

    void hmac(const unsigned char* key, std::size_t key_len, std::string_view msg, digest& out) {
        std::size_t n = 0;
        if (EVP_MAC_init(mac_ctx, key, key_len, nullptr) != 1 ||
            EVP_MAC_update(mac_ctx, reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) != 1 ||
            EVP_MAC_final(mac_ctx, out.data(), &n, out.size()) != 1 || n != digest_len)
            openssl_failure("HMAC-SHA256");
    }

    bool cache_matches(std::string_view key, std::string_view date, std::string_view service) const noexcept {
        return cache_valid && cached_date == date && cached_service == service && cached_key.size() == key.size() &&
               CRYPTO_memcmp(cached_key.data(), key.data(), key.size()) == 0;
    }

    /// Derives kSigning for (key, date, service) into the cache; fills the
    /// derived-key hexes of `trace` when non-null.
    void derive(std::string_view key, std::string_view date, std::string_view service, tc3_trace* trace) {
        wipe_cache();
        std::string k0;
        k0.reserve(3 + key.size());
        k0.append("TC3").append(key);
        cleanse_guard g0{k0.data(), k0.size()};
        digest k_date{}, k_service{};
        cleanse_guard g1{k_date.data(), k_date.size()};
        cleanse_guard g2{k_service.data(), k_service.size()};
        hmac(reinterpret_cast<const unsigned char*>(k0.data()), k0.size(), date, k_date);
        hmac(k_date.data(), k_date.size(), service, k_service);
        hmac(k_service.data(), k_service.size(), "tc3_request", k_signing);
        if (EVP_MAC_init(sign_ctx, k_signing.data(), k_signing.size(), nullptr) != 1) openssl_failure("HMAC-SHA256");
        if (trace) {
            trace->secret_date_hex = to_hex(k_date);
            trace->secret_service_hex = to_hex(k_service);
            trace->secret_signing_hex = to_hex(k_signing);
        }
        cached_key.assign(key);  // old contents were wiped by wipe_cache()
        cached_date.assign(date);
        cached_service.assign(service);
        cache_valid = true;
    }

    /// Sorts and checks the signed headers and builds the canonical request
    /// up to the payload hash; remembers the inputs (prefix_probe).
    void build_prefix(const tc3_request& req) {
        prefix.clear();
        prefix_inputs.clear();
        // 1. Headers: content-type, host and extras, sorted by lower-case name.
        headers.clear();
        headers.push_back({"content-type", req.content_type});
        headers.push_back({"host", req.host});
        for (const auto& h : req.extra_signed_headers) {
            const auto name = trim(h.name);
            if (name.empty()) throw std::invalid_argument("cbs::tc3_signer: empty signed header name");
            headers.push_back({name, h.value});
        }
        std::sort(headers.begin(), headers.end(),
                  [](const header_ref& a, const header_ref& b) { return compare_ci(a.name, b.name) < 0; });
        for (std::size_t i = 1; i < headers.size(); ++i)
            if (compare_ci(headers[i - 1].name, headers[i].name) == 0)
                throw std::invalid_argument("cbs::tc3_signer: duplicate signed header '" +
                                            std::string(headers[i].name) + "'");

        signed_headers.clear();
        for (const auto& h : headers) {
            if (!signed_headers.empty()) signed_headers.push_back(';');
            append_lower(signed_headers, h.name);
        }
        prefix.append(req.method).push_back('\n');
        prefix.append(req.canonical_uri).push_back('\n');
        prefix.append(req.canonical_query).push_back('\n');
        for (const auto& h : headers) {
            append_lower(prefix, h.name);
            prefix.push_back(':');
            append_lower(prefix, trim(h.value));
            prefix.push_back('\n');
        }
        prefix.push_back('\n');
        prefix.append(signed_headers).push_back('\n');
        prefix_inputs = prefix_probe;
    }

    /// Signs `req`; writes the 64 hex chars of the signature to `sig_hex`.
    /// Leaves the credential scope in `scope` and signed headers in `signed_headers`.
    void sign(const tc3_request& req, tc3_trace* trace, char* sig_hex) {
        // What the canonical prefix depends on, NUL-separated.
        prefix_probe.clear();
        prefix_probe.append(req.method).push_back('\0');
        prefix_probe.append(req.canonical_uri).push_back('\0');
        prefix_probe.append(req.canonical_query).push_back('\0');
        prefix_probe.append(req.content_type).push_back('\0');
        prefix_probe.append(req.host).push_back('\0');
        for (const auto& h : req.extra_signed_headers)
            prefix_probe.append(h.name).append(1, '\0').append(h.value).push_back('\0');
        if (prefix_probe != prefix_inputs || prefix.empty()) build_prefix(req);

        // 2. Canonical request: the prefix, then the payload hash.
        digest d{};
        sha256(req.payload, d);
        canonical.assign(prefix);
        const auto payload_hash_pos = canonical.size();
        append_hex(canonical, d.data(), d.size());

        // 3. String to sign.
        const std::string date = detail::utc_date(req.timestamp);  // fits SSO: no allocation
        scope.clear();
        scope.append(date).append("/").append(req.service).append("/tc3_request");

        char ts[24];
        const auto ts_end = std::to_chars(ts, ts + sizeof ts, req.timestamp).ptr;
        sha256(canonical, d);
        to_sign.clear();
        to_sign.append(algorithm).push_back('\n');
        to_sign.append(ts, ts_end).push_back('\n');
        to_sign.append(scope).push_back('\n');
        const auto hashed_canonical_pos = to_sign.size();
        append_hex(to_sign, d.data(), d.size());

        // 4. Key (cached) and signature.
        if (trace || !cache_matches(req.secret_key, date, req.service))
            derive(req.secret_key, date, req.service, trace);
        std::size_t n = 0;
        if (EVP_MAC_init(sign_ctx, nullptr, 0, nullptr) != 1 ||
            EVP_MAC_update(sign_ctx, reinterpret_cast<const unsigned char*>(to_sign.data()), to_sign.size()) != 1 ||
            EVP_MAC_final(sign_ctx, d.data(), &n, d.size()) != 1 || n != digest_len)
            openssl_failure("HMAC-SHA256");
        for (std::size_t i = 0; i < digest_len; ++i) {
            sig_hex[2 * i] = hex_digits[d[i] >> 4];
            sig_hex[2 * i + 1] = hex_digits[d[i] & 0x0f];
        }

        if (trace) {
            trace->hashed_payload.assign(canonical, payload_hash_pos, std::string::npos);
            trace->canonical_request = canonical;
            trace->hashed_canonical_request.assign(to_sign, hashed_canonical_pos, std::string::npos);
            trace->date = date;
            trace->credential_scope = scope;
            trace->string_to_sign = to_sign;
            trace->signed_headers = signed_headers;
            trace->signature.assign(sig_hex, 2 * digest_len);
        }
    }
};

tc3_signer::tc3_signer() : impl_(std::make_unique<impl>()) {}
tc3_signer::~tc3_signer() = default;
tc3_signer::tc3_signer(tc3_signer&&) noexcept = default;
tc3_signer& tc3_signer::operator=(tc3_signer&&) noexcept = default;

tc3_signer::impl& tc3_signer::state() {
    if (!impl_) impl_ = std::make_unique<impl>();
    return *impl_;
}

std::string tc3_signer::signature(const tc3_request& req, tc3_trace* trace) {
    std::string sig(2 * digest_len, '\0');
    state().sign(req, trace, sig.data());
    return sig;
}

std::string tc3_signer::authorization(const tc3_request& req, tc3_trace* trace) {
    auto& st = state();
    char sig[2 * digest_len];
    st.sign(req, trace, sig);
    constexpr std::string_view p1 = " Credential=", p2 = ", SignedHeaders=", p3 = ", Signature=";
    std::string out;
    out.reserve(algorithm.size() + p1.size() + req.secret_id.size() + 1 + st.scope.size() + p2.size() +
                st.signed_headers.size() + p3.size() + sizeof sig);
    out.append(algorithm).append(p1).append(req.secret_id).append("/").append(st.scope);
    out.append(p2).append(st.signed_headers).append(p3).append(sig, sizeof sig);
    return out;
}

namespace detail {

std::string sha256_hex(std::string_view data) {
    digest d{};
    unsigned int n = 0;
    if (EVP_Digest(data.data(), data.size(), d.data(), &n, EVP_sha256(), nullptr) != 1 || n != digest_len)
        openssl_failure("SHA256");
    return to_hex(d);
}

std::string utc_date(std::int64_t unix_seconds) {
    // Days since the epoch, rounding toward negative infinity.
    std::int64_t z = unix_seconds / 86400;
    if (unix_seconds % 86400 < 0) --z;
    // civil_from_days (H. Hinnant), proleptic Gregorian calendar.
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const std::int64_t doe = z - era * 146097;                                       // [0, 146096]
    const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
    std::int64_t y = yoe + era * 400;
    const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);  // [0, 365]
    const std::int64_t mp = (5 * doy + 2) / 153;                       // [0, 11]
    const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;               // [1, 31]
    const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;                  // [1, 12]
    if (m <= 2) ++y;

    std::string out;
    out.reserve(12);
    if (y < 0) {
        out.push_back('-');
        y = -y;
    }
    char buf[24];
    const auto end = std::to_chars(buf, buf + sizeof buf, y).ptr;
    for (auto len = end - buf; len < 4; ++len) out.push_back('0');
    out.append(buf, end);
    out.push_back('-');
    out.push_back(static_cast<char>('0' + m / 10));
    out.push_back(static_cast<char>('0' + m % 10));
    out.push_back('-');
    out.push_back(static_cast<char>('0' + d / 10));
    out.push_back(static_cast<char>('0' + d % 10));
    return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    if (a.empty()) return true;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace detail
}  // namespace cbs
