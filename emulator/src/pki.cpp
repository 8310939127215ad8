#include <cbs/emulator/pki.hpp>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stdlib.h>    // mkdtemp
#include <sys/stat.h>  // chmod

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace cbs::emu {
namespace {

template <class T, void (*Free)(T*)>
struct ossl_deleter {
    void operator()(T* p) const noexcept { Free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, ossl_deleter<EVP_PKEY, EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, ossl_deleter<X509, X509_free>>;
using bio_ptr = std::unique_ptr<BIO, ossl_deleter<BIO, BIO_free_all>>;
using bn_ptr = std::unique_ptr<BIGNUM, ossl_deleter<BIGNUM, BN_free>>;
using ext_ptr = std::unique_ptr<X509_EXTENSION, ossl_deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using gens_ptr = std::unique_ptr<GENERAL_NAMES, ossl_deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;

[[noreturn]] void fail(const std::string& what) {
    std::string msg = "cbs::emu::pki: " + what;
    if (unsigned long e = ERR_get_error(); e != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        msg += ": ";
        msg += buf;
    }
    ERR_clear_error();
    throw std::runtime_error(msg);
}

void check(int rc, const char* what) {
    if (rc <= 0) fail(what);
}

pkey_ptr generate_key() {
    // P-256 keygen is ~100x faster than RSA-2048, which keeps per-test pki cheap.
    pkey_ptr key{EVP_EC_gen("P-256")};
    if (!key) fail("EVP_EC_gen(P-256)");
    return key;
}

std::string to_pem(X509* cert) {
    bio_ptr bio{BIO_new(BIO_s_mem())};
    if (!bio) fail("BIO_new");
    check(PEM_write_bio_X509(bio.get(), cert), "PEM_write_bio_X509");
    BUF_MEM* mem = nullptr;
    BIO_get_mem_ptr(bio.get(), &mem);
    return std::string(mem->data, mem->length);
}

std::string to_pem(EVP_PKEY* key) {
    bio_ptr bio{BIO_new(BIO_s_mem())};
    if (!bio) fail("BIO_new");
    check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr), "PEM_write_bio_PrivateKey");
    BUF_MEM* mem = nullptr;
    BIO_get_mem_ptr(bio.get(), &mem);
    return std::string(mem->data, mem->length);
}

x509_ptr cert_from_pem(const std::string& pem) {
    bio_ptr bio{BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))};
    if (!bio) fail("BIO_new_mem_buf");
    x509_ptr cert{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)};
    if (!cert) fail("PEM_read_bio_X509");
    return cert;
}

pkey_ptr key_from_pem(const std::string& pem) {
    bio_ptr bio{BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))};
    if (!bio) fail("BIO_new_mem_buf");
    pkey_ptr key{PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)};
    if (!key) fail("PEM_read_bio_PrivateKey");
    return key;
}

// Adds an extension given in openssl.cnf syntax ("critical,CA:TRUE", ...).
void add_ext(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
    ext_ptr ext{X509V3_EXT_conf_nid(nullptr, ctx, nid, value)};
    if (!ext) fail(std::string("X509V3_EXT_conf_nid ") + OBJ_nid2sn(nid) + "=" + value);
    check(X509_add_ext(cert, ext.get(), -1), "X509_add_ext");
}

// SANs are built as GENERAL_NAMEs rather than through the config syntax so
// that IPv6 literals ("::1") need no escaping and bad input fails loudly.
void add_sans(X509* cert, const std::vector<std::string>& dns, const std::vector<std::string>& ips) {
    if (dns.empty() && ips.empty()) return;
    gens_ptr gens{sk_GENERAL_NAME_new_null()};
    if (!gens) fail("sk_GENERAL_NAME_new_null");
    for (const auto& name : dns) {
        GENERAL_NAME* gen = GENERAL_NAME_new();
        ASN1_IA5STRING* str = ASN1_IA5STRING_new();
        if (!gen || !str || ASN1_STRING_set(str, name.data(), static_cast<int>(name.size())) != 1) {
            GENERAL_NAME_free(gen);
            ASN1_IA5STRING_free(str);
            fail("DNS SAN " + name);
        }
        GENERAL_NAME_set0_value(gen, GEN_DNS, str);
        sk_GENERAL_NAME_push(gens.get(), gen);
    }
    for (const auto& ip : ips) {
        ASN1_OCTET_STRING* addr = a2i_IPADDRESS(ip.c_str());
        if (!addr) fail("invalid IP SAN '" + ip + "'");
        GENERAL_NAME* gen = GENERAL_NAME_new();
        if (!gen) {
            ASN1_OCTET_STRING_free(addr);
            fail("GENERAL_NAME_new");
        }
        GENERAL_NAME_set0_value(gen, GEN_IPADD, addr);
        sk_GENERAL_NAME_push(gens.get(), gen);
    }
    check(X509_add1_ext_i2d(cert, NID_subject_alt_name, gens.get(), 0, X509V3_ADD_DEFAULT),
          "X509_add1_ext_i2d(subjectAltName)");
}

constexpr long validity_before_s = 3600;            // tolerate clock skew between hosts
constexpr long validity_after_s = 30L * 24 * 3600;  // 30 days

// Common skeleton: version 3, random serial, validity, subject, issuer, key.
x509_ptr new_cert(EVP_PKEY* subject_key, const std::string& common_name, X509* issuer) {
    x509_ptr cert{X509_new()};
    if (!cert) fail("X509_new");
    check(X509_set_version(cert.get(), X509_VERSION_3), "X509_set_version");

    // Random positive 63-bit serial: clients may cache (issuer, serial) pairs,
    // so two pki instances must never produce the same pair.
    bn_ptr serial{BN_new()};
    if (!serial) fail("BN_new");
    check(BN_rand(serial.get(), 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY), "BN_rand");
    if (!BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get()))) fail("BN_to_ASN1_INTEGER");

    if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -validity_before_s)) fail("notBefore");
    if (!X509_gmtime_adj(X509_getm_notAfter(cert.get()), validity_after_s)) fail("notAfter");

    X509_NAME* name = X509_get_subject_name(cert.get());
    const auto* org = reinterpret_cast<const unsigned char*>("cbs-async");
    const auto* cn = reinterpret_cast<const unsigned char*>(common_name.c_str());
    check(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, org, -1, -1, 0), "subject O");
    check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, cn, -1, -1, 0), "subject CN");
    check(X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name), "X509_set_issuer_name");
    check(X509_set_pubkey(cert.get(), subject_key), "X509_set_pubkey");
    return cert;
}

struct server_pair {
    std::string cert_pem, key_pem;
};

server_pair issue_server_cert(X509* ca_cert, EVP_PKEY* ca_key, const std::vector<std::string>& dns,
                              const std::vector<std::string>& ips) {
    pkey_ptr key = generate_key();
    // CN is informational only (SANs take precedence), but a sensible one makes
    // `openssl x509 -text` output and error messages easier to read.
    const std::string cn = !dns.empty() ? dns.front() : !ips.empty() ? ips.front() : "cbs-emulator";
    x509_ptr cert = new_cert(key.get(), cn, ca_cert);

    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, ca_cert, cert.get(), nullptr, nullptr, 0);
    add_ext(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature");
    add_ext(cert.get(), &ctx, NID_ext_key_usage, "serverAuth");
    add_ext(cert.get(), &ctx, NID_subject_key_identifier, "hash");
    add_ext(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");
    add_sans(cert.get(), dns, ips);

    if (X509_sign(cert.get(), ca_key, EVP_sha256()) <= 0) fail("X509_sign(server)");
    return {to_pem(cert.get()), to_pem(key.get())};
}

// Temp directories created by write_ca_file(), removed at static destruction.
struct temp_dir_registry {
    std::mutex mutex;
    std::vector<std::filesystem::path> dirs;
    ~temp_dir_registry() {
        for (const auto& dir : dirs) {
            std::error_code ec;
            std::filesystem::remove_all(dir, ec);
        }
    }
};

temp_dir_registry& temp_dirs() {
    static temp_dir_registry registry;
    return registry;
}

}  // namespace

pki pki::make(const std::vector<std::string>& dns, const std::vector<std::string>& ips) {
    pkey_ptr ca_key = generate_key();
    x509_ptr ca_cert = new_cert(ca_key.get(), "cbs-async emulator CA", nullptr);

    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, ca_cert.get(), ca_cert.get(), nullptr, nullptr, 0);
    add_ext(ca_cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(ca_cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(ca_cert.get(), &ctx, NID_subject_key_identifier, "hash");
    if (X509_sign(ca_cert.get(), ca_key.get(), EVP_sha256()) <= 0) fail("X509_sign(CA)");

    server_pair server = issue_server_cert(ca_cert.get(), ca_key.get(), dns, ips);

    pki result;
    result.ca_cert_pem = to_pem(ca_cert.get());
    result.ca_key_pem = to_pem(ca_key.get());
    result.server_cert_pem = std::move(server.cert_pem);
    result.server_key_pem = std::move(server.key_pem);
    return result;
}

pki pki::issue(const std::vector<std::string>& dns, const std::vector<std::string>& ips) const {
    x509_ptr ca_cert = cert_from_pem(ca_cert_pem);
    pkey_ptr ca_key = key_from_pem(ca_key_pem);
    server_pair server = issue_server_cert(ca_cert.get(), ca_key.get(), dns, ips);

    pki result;
    result.ca_cert_pem = ca_cert_pem;
    result.ca_key_pem = ca_key_pem;
    result.server_cert_pem = std::move(server.cert_pem);
    result.server_key_pem = std::move(server.key_pem);
    return result;
}

std::string pki::write_ca_file() const {
    std::string pattern = (std::filesystem::temp_directory_path() / "cbs-pki-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
        throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    const std::filesystem::path dir = pattern;
    {
        auto& registry = temp_dirs();
        std::lock_guard lock(registry.mutex);
        registry.dirs.push_back(dir);
    }
    const std::filesystem::path file = dir / "ca.pem";
    std::ofstream out(file, std::ios::binary);
    out << ca_cert_pem;
    out.close();
    if (!out) throw std::runtime_error("cbs::emu::pki: cannot write " + file.string());
    return file.string();
}

namespace {

void write_file(const std::filesystem::path& file, const std::string& text, bool secret) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    if (secret) ::chmod(file.c_str(), 0600);  // before any key byte is written
    out << text;
    out.close();
    if (!out) throw std::runtime_error("cbs::emu::pki: cannot write " + file.string());
}

std::optional<std::string> read_file(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return std::nullopt;
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad() || text.empty()) return std::nullopt;
    return text;
}

}  // namespace

void pki::write_dir(const std::string& dir) const {
    const std::filesystem::path d = dir;
    write_file(d / "ca.pem", ca_cert_pem, false);
    write_file(d / "ca-key.pem", ca_key_pem, true);
    write_file(d / "server.pem", server_cert_pem, false);
    write_file(d / "server-key.pem", server_key_pem, true);
}

std::optional<pki> pki::load_dir(const std::string& dir) {
    const std::filesystem::path d = dir;
    auto ca = read_file(d / "ca.pem");
    auto ca_key = read_file(d / "ca-key.pem");
    auto cert = read_file(d / "server.pem");
    auto key = read_file(d / "server-key.pem");
    if (!ca || !ca_key || !cert || !key) return std::nullopt;
    try {
        x509_ptr c = cert_from_pem(*cert);
        (void)cert_from_pem(*ca);
        (void)key_from_pem(*ca_key);
        (void)key_from_pem(*key);
        time_t soon = ::time(nullptr) + time_t{24} * 3600;
        if (X509_cmp_time(X509_get0_notAfter(c.get()), &soon) <= 0) return std::nullopt;
    } catch (const std::runtime_error&) {
        return std::nullopt;
    }
    return pki{std::move(*ca), std::move(*ca_key), std::move(*cert), std::move(*key)};
}

const pki& default_pki() {
    static const pki instance = pki::make();
    return instance;
}

const pki& other_ca_pki() {
    static const pki instance = pki::make_other_ca();
    return instance;
}

const pki& other_host_pki() {
    static const pki instance = default_pki().issue({"other.example"}, {});
    return instance;
}

}  // namespace cbs::emu
