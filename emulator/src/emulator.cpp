// cbs::emu::emulator: parameters, state directory, PKI, accounts; the I/O is
// in server.cpp and the request pipeline in gateway.cpp.
#include "emulator_impl.hpp"

#include <cbs/emulator/pki.hpp>

#include <boost/asio/buffer.hpp>

#include <openssl/ssl.h>

#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <system_error>

namespace cbs::emu {

namespace asio = boost::asio;
namespace ssl = asio::ssl;

namespace {

std::string random_string(std::mt19937_64& rng, std::size_t n) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s.push_back(alphabet[rng() % (sizeof alphabet - 1)]);
    return s;
}

std::vector<account> accounts_or_generated(const std::vector<account>& given) {
    if (!given.empty()) return given;
    std::random_device rd;
    std::mt19937_64 rng((std::uint64_t(rd()) << 32) ^ rd());
    // Shaped like real keys: "AKID" + 32 characters, a 32-character key.
    return {account{"AKID" + random_string(rng, 32), random_string(rng, 32), {}}};
}

void validate_faults(const fault_params& f) {
    for (const auto& [action, r] : f.rules) {
        for (double v : {r.transient, r.gateway_502, r.reset_before, r.reset_after, r.slow, r.latency})
            if (!(v >= 0 && v <= 1))
                throw std::invalid_argument("cbs emulator: fault probabilities of '" + action + "' must be in [0, 1]");
        if (r.transient + r.gateway_502 + r.reset_before + r.reset_after + r.slow > 1.0 + 1e-9)
            throw std::invalid_argument("cbs emulator: fault probabilities of '" + action + "' add up to more than 1");
    }
    if (f.latency.count() < 0 || f.slow_delay.count() < 0 || (f.latency_max && f.latency_max->count() < 0) ||
        (f.slow_delay_min && f.slow_delay_min->count() < 0))
        throw std::invalid_argument("cbs emulator: fault delays must not be negative");
    if (f.latency_max && *f.latency_max < f.latency)
        throw std::invalid_argument("cbs emulator: faults.latency_max must be at least faults.latency");
    if (f.slow_delay_min && *f.slow_delay_min > f.slow_delay)
        throw std::invalid_argument("cbs emulator: faults.slow_delay_min must be at most faults.slow_delay");
}

void validate_rate_limits(const rate_limit_params& r) {
    if (r.window.count() <= 0) throw std::invalid_argument("cbs emulator: rate_limits.window must be positive");
    for (const auto& [code, w] : r.throttle_codes) {
        if (!code.starts_with("RequestLimitExceeded"))
            throw std::invalid_argument("cbs emulator: rate_limits.throttle_codes: '" + code +
                                        "' is not a RequestLimitExceeded code");
        if (!(w > 0 && w < 1e12))
            throw std::invalid_argument("cbs emulator: rate_limits.throttle_codes: the weight of '" + code +
                                        "' must be positive");
    }
}

void validate_roles(const emulator_params& p) {
    auto bad = [](const std::string& what) { throw std::invalid_argument("cbs emulator: " + what); };
    for (const auto& r : p.roles)
        if (!detail::parse_role_arn(r))
            bad("roles: '" + r.substr(0, 200) + "' is not a role ARN (qcs::cam::uin/<digits>:roleName/<name>)");
    if (p.temp_credential_lifetime.count() < 1 || p.temp_credential_lifetime.count() > detail::max_sts_duration)
        bad("temp_credential_lifetime must be between 1 s and 43200 s");
    if (p.oidc_provider_id.empty() != p.oidc_token.empty()) bad("oidc_provider_id and oidc_token go together");
    if (p.oidc_provider_id.size() > 256) bad("oidc_provider_id is longer than 256 characters");
    if (!p.metadata_role.empty() && !detail::is_name(p.metadata_role, 1, 128))
        bad("metadata_role '" + p.metadata_role.substr(0, 200) + "' is not a role name ([\\w+=,.@-], 1 to 128)");
}

void validate(const emulator_params& p) {
    auto bad = [](const std::string& what) { throw std::invalid_argument("cbs emulator: " + what); };
    boost::system::error_code ec;
    (void)asio::ip::make_address(p.listen_address, ec);
    if (ec) bad("listen_address '" + p.listen_address + "' is not an IP address");
    const int pem = !p.cert_file.empty() + !p.key_file.empty() + !p.ca_file.empty();
    if (pem != 0 && pem != 3) bad("cert_file, key_file and ca_file go together");
    for (std::size_t i = 0; i < p.accounts.size(); ++i) {
        const auto& a = p.accounts[i];
        if (a.secret_id.empty() || a.secret_key.empty()) bad("an account needs a secret_id and a secret_key");
        for (std::size_t j = 0; j < i; ++j)
            if (p.accounts[j].secret_id == a.secret_id) bad("accounts: SecretId '" + a.secret_id + "' given twice");
    }
    if (p.persist_state && p.state_dir.empty()) bad("persist_state needs a state_dir");
    if (p.max_skew.count() < 0) bad("max_skew must not be negative");
    if (p.max_body == 0) bad("max_body must be positive");
    if (p.idle_timeout.count() <= 0) bad("idle_timeout must be positive");
    if (p.accept_backoff_min.count() <= 0 || p.accept_backoff_max < p.accept_backoff_min)
        bad("accept_backoff_min must be positive and at most accept_backoff_max");
    validate_rate_limits(p.rate_limits);
    validate_faults(p.faults);
    validate_roles(p);
    const auto& accepted = p.regions.empty() ? cbs_regions() : p.regions;
    for (const auto& r : p.fleet_regions)
        if (std::find(accepted.begin(), accepted.end(), r) == accepted.end())
            bad("fleet_regions: '" + r.substr(0, 100) + "' is not an accepted region");
}

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cbs emulator: cannot read " + path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool is_loopback(const std::string& a) {
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(a, ec);
    return !ec && (addr.is_loopback() || addr.is_unspecified());
}

}  // namespace

emulator::impl::impl(const asio::any_io_executor& ex, emulator_params p)
    : executor(ex),
      acceptor_strand(asio::make_strand(ex)),
      params(std::move(p)),
      acceptor(acceptor_strand),
      accept_timer(acceptor_strand),
      metadata_strand(asio::make_strand(ex)),
      metadata_acceptor(metadata_strand),
      metadata_accept_timer(metadata_strand) {}

emulator::emulator(const asio::any_io_executor& ex, emulator_params params) {
    validate(params);
    auto accounts = accounts_or_generated(params.accounts);
    impl_ = std::make_shared<impl>(ex, std::move(params));
    impl_->params.accounts = accounts;
    impl_->gw = std::make_unique<detail::gateway>(impl_->params, std::move(accounts));
    if (impl_->params.persist_state) {
        // At most one save per 200 ms: a fleet run's creates (20/s) cost a few writes a second.
        auto* gw = impl_->gw.get();
        impl_->saver = std::make_unique<detail::state_saver>(
            (std::filesystem::path(impl_->params.state_dir) / detail::state_file_name).string(),
            [gw] { return gw->state_if_changed(); }, impl_->params.notice, std::chrono::milliseconds(200));
        gw->set_on_change([s = impl_->saver.get()] { s->notify(); });
    }
}

emulator::~emulator() {
    stop();
    if (impl_->owns_state_dir) {
        std::error_code ec;
        std::filesystem::remove_all(impl_->state_dir, ec);
    }
}

void emulator::start() {
    auto& st = *impl_;
    {
        std::lock_guard lock(st.mu);
        if (st.started) throw std::logic_error("cbs emulator: start() called twice");
        st.started = true;
    }
    namespace fs = std::filesystem;
    if (st.params.state_dir.empty()) {
        std::string pattern = (fs::temp_directory_path() / "cbs-emulator-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr)
            throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
        st.state_dir = pattern;
        st.owns_state_dir = true;
    } else {
        st.state_dir = st.params.state_dir;
        fs::create_directories(st.state_dir);
    }

    std::string cert_pem, key_pem;
    if (!st.params.cert_file.empty()) {
        cert_pem = read_text(st.params.cert_file);
        key_pem = read_text(st.params.key_file);
        st.ca_path = st.params.ca_file;
    } else {
        auto loaded = pki::load_dir(st.state_dir);
        pki certs = loaded ? std::move(*loaded) : pki::make();
        if (!loaded) certs.write_dir(st.state_dir);
        cert_pem = std::move(certs.server_cert_pem);
        key_pem = std::move(certs.server_key_pem);
        st.ca_path = (fs::path(st.state_dir) / "ca.pem").string();
    }

    st.ssl_ctx.emplace(ssl::context::tls_server);
    st.ssl_ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                            ssl::context::single_dh_use);
    if (SSL_CTX_set_min_proto_version(st.ssl_ctx->native_handle(), TLS1_2_VERSION) != 1)
        throw std::runtime_error("cbs emulator: SSL_CTX_set_min_proto_version failed");
    st.ssl_ctx->use_certificate_chain(asio::buffer(cert_pem));
    st.ssl_ctx->use_private_key(asio::buffer(key_pem), ssl::context::pem);

    if (!st.params.log_file.empty()) st.gw->open_log(st.params.log_file);
    if (st.saver) st.saver->start();
    detail::start_server(impl_);
    if (st.params.metadata) detail::start_metadata_server(impl_);
}

void emulator::stop() {
    bool serving = false;
    {
        std::lock_guard lock(impl_->mu);
        serving = impl_->started && !impl_->stopped;
        if (!serving) impl_->stopped = true;
    }
    if (serving) {
        detail::stop_server(impl_);
        detail::stop_metadata_server(impl_);
    }
    // After the listeners: the final state. Idempotent, and it saves only
    // what changed (also for an emulator never started).
    if (impl_->saver) impl_->saver->stop();
}

std::string emulator::endpoint() const {
    const auto& a = impl_->params.listen_address;
    const std::string host = is_loopback(a) ? "localhost" : (a.find(':') != std::string::npos ? "[" + a + "]" : a);
    return "https://" + host + ":" + std::to_string(port());
}

std::uint16_t emulator::port() const {
    std::lock_guard lock(impl_->mu);
    return impl_->port;
}

std::string emulator::ca_file() const {
    return impl_->ca_path;
}
std::string emulator::state_dir() const {
    return impl_->state_dir;
}
std::vector<account> emulator::accounts() const {
    return impl_->gw->accounts();
}
void emulator::inspect(const std::function<void(fleet_state&)>& f) {
    impl_->gw->inspect(f);
}
void emulator::inspect(const std::string& region, const std::function<void(fleet_state&)>& f) {
    impl_->gw->inspect(region, f);
}
std::vector<std::string> emulator::fleet_regions() const {
    return impl_->gw->fleet_regions();
}
std::vector<request_record> emulator::request_log() const {
    return impl_->gw->request_log();
}
void emulator::clear_request_log() {
    impl_->gw->clear_request_log();
}
void emulator::set_faults(fault_params faults) {
    validate_faults(faults);
    impl_->gw->set_faults(std::move(faults));
}
void emulator::set_rate_limits(rate_limit_params limits) {
    validate_rate_limits(limits);
    impl_->gw->set_rate_limits(std::move(limits));
}

std::string emulator::metadata_endpoint() const {
    const auto p = metadata_port();
    return p == 0 ? std::string() : "http://127.0.0.1:" + std::to_string(p);
}

std::uint16_t emulator::metadata_port() const {
    std::lock_guard lock(impl_->mu);
    return impl_->metadata_port;
}

std::vector<issued_credential> emulator::issued_credentials() const {
    return impl_->gw->issued_credentials();
}

void emulator::expire_issued_credentials() {
    impl_->gw->expire_issued_credentials();
}

std::size_t emulator::connection_count() const {
    std::lock_guard lock(impl_->mu);
    return impl_->connections.size();
}

std::uint64_t emulator::accept_failures() const {
    std::lock_guard lock(impl_->mu);
    return impl_->accept_failures;
}

}  // namespace cbs::emu
