// cbs-async emulator: a private PKI (a CA plus a server certificate signed by it).
//
// Everything is generated at run time with OpenSSL 3 (EC P-256 keys, SHA-256
// signatures), so no key material is checked into the repository and the
// certificates never expire in CI. Generation takes a few milliseconds; the
// commonly used instances are cached behind default_pki() & co.
//
// The emulator uses it to create its CA and server certificate (for
// localhost, 127.0.0.1, ::1 and cbs.tencentcloudapi.com) in its state
// directory; the tests use it (re-exported as cbs::test::pki) for their
// scripted servers.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace cbs::emu {

struct pki {
    std::string ca_cert_pem;      ///< self-signed CA (basicConstraints CA:TRUE, keyUsage keyCertSign)
    std::string ca_key_pem;       ///< the CA's private key (PKCS#8 PEM), kept so issue() can sign more certs
    std::string server_cert_pem;  ///< signed by the CA; SANs as requested, serverAuth EKU, valid now-1h .. now+30d
    std::string server_key_pem;   ///< the server certificate's private key (PKCS#8 PEM)

    /// Creates a brand-new CA (unrelated to any other pki) and a server certificate.
    /// dns: DNS SANs; ips: IP SANs (IPv4 or IPv6 literals).
    /// Defaults cover localhost, 127.0.0.1, ::1 and cbs.tencentcloudapi.com.
    /// Throws std::runtime_error when OpenSSL fails (e.g. an unparsable IP literal).
    static pki make(const std::vector<std::string>& dns = {"localhost", "cbs.tencentcloudapi.com"},
                    const std::vector<std::string>& ips = {"127.0.0.1", "::1"});

    /// Same as make(): a fresh CA nobody else trusts. Reads better at call sites
    /// of "client trusts CA #2, server presents a cert from CA #1" tests.
    static pki make_other_ca() { return make(); }

    /// Issues a new server key/certificate for the given SANs from this pki's CA.
    /// The result shares ca_cert_pem/ca_key_pem with *this, so a client trusting
    /// this CA accepts the chain and only host-name verification can fail.
    pki issue(const std::vector<std::string>& dns, const std::vector<std::string>& ips = {}) const;

    /// Writes ca_cert_pem to "<unique temp dir>/ca.pem" and returns that path, for
    /// clients that take a CA file path. The directories are removed at process exit.
    std::string write_ca_file() const;

    /// Writes the four PEM files into `dir` (which must exist): ca.pem,
    /// ca-key.pem, server.pem, server-key.pem; the keys with mode 0600.
    /// Throws std::runtime_error naming the file on failure.
    void write_dir(const std::string& dir) const;

    /// Loads what write_dir() wrote. nullopt when a file is missing or
    /// unparsable, or when the server certificate expires within a day (so a
    /// stale state directory is regenerated rather than served).
    static std::optional<pki> load_dir(const std::string& dir);
};

/// Cached pki::make() with the default SANs; generated once per process.
const pki& default_pki();

/// Cached, unrelated CA (with default SANs): a client trusting default_pki()'s
/// CA must refuse a server using this one, and vice versa.
const pki& other_ca_pki();

/// Cached certificate from default_pki()'s CA that is valid only for
/// "other.example" (no IP SANs): chain verification succeeds, host-name
/// verification for localhost/127.0.0.1/cbs.tencentcloudapi.com fails.
const pki& other_host_pki();

}  // namespace cbs::emu
