// Role credentials and clock skew end to end. Against scripted servers: the
// metadata service over plain HTTP and the API over TLS, asserting on what
// each of them saw (the requests, their X-TC-Token, Authorization and
// X-TC-Timestamp). Against the embedded emulator (STS actions, expiring
// temporary credentials, the metadata mode, a clock ahead): see the second
// half of this file.
#include "support/client_params.hpp"
#include "support/pki.hpp"
#include "support/run_to_end.hpp"
#include "support/scripted_server.hpp"

#include <cbs/client.hpp>
#include <cbs/credential_provider.hpp>
#include <cbs/emulator/emulator.hpp>
#include <cbs/fleet.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include <unistd.h>

namespace asio = boost::asio;
namespace t = cbs::test;
using namespace std::chrono_literals;
using cbs::client_errc;

namespace {

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// HTTP 200 with a JSON body, plain (the metadata service's answers).
std::string http_text(int status, std::string_view body) {
    std::string reason = status == 200 ? "OK" : status == 404 ? "Not Found" : "Error";
    return "HTTP/1.1 " + std::to_string(status) + " " + reason +
           "\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + std::string(body);
}

/// A scripted metadata service: serves role `role` with credentials number
/// n (TmpSecretId AKIDROLE<n>, Token token-<n>) lasting `lifetime` seconds;
/// `generation` picks n (tests bump it to "rotate" the credentials).
struct metadata_script {
    std::string role = "cbs-role";
    std::int64_t lifetime = 3600;
    int generation = 1;
    bool bound = true;
    std::map<std::string, int> hits;  // path -> requests

    std::string answer(const t::recorded_request& r) {
        ++hits[r.target];
        const std::string base = "/latest/meta-data/cam/security-credentials/";
        if (r.target == base) return bound ? http_text(200, role) : http_text(404, "not found");
        if (r.target == base + role) {
            const auto n = std::to_string(generation);
            return http_text(200, R"({"TmpSecretId":"AKIDROLE)" + n + R"(","TmpSecretKey":"rolekey)" + n +
                                      R"(","Token":"token-)" + n + R"(","ExpiredTime":)" +
                                      std::to_string(unix_now() + lifetime) + R"(,"Expiration":"x","Code":"Success"})");
        }
        return http_text(404, "no such path");
    }
};

t::scripted_server::options plain_http() {
    t::scripted_server::options o;
    o.tls = false;
    return o;
}

/// The SecretId in an Authorization header's Credential=.
std::string credential_id(const t::recorded_request& r) {
    const auto a = r.header("Authorization");
    const auto at = a.find("Credential=");
    if (at == std::string::npos) return {};
    const auto end = a.find('/', at);
    return a.substr(at + 11, end - at - 11);
}

cbs::client_params role_params(const t::scripted_server& api, const t::scripted_server& metadata) {
    auto p = t::fast_client_params(api);
    p.creds = {};
    cbs::cvm_role_params cp;
    cp.endpoint = metadata.endpoint_ip();
    p.credentials_provider = cbs::make_cvm_role_provider(cp);
    return p;
}

cbs::create_snapshot_group_request create_req() {
    cbs::create_snapshot_group_request r;
    r.disk_ids = {"disk-11112222"};
    r.snapshot_group_name = "fleet-ins-11112222-run1";
    return r;
}

}  // namespace

TEST_CASE("credentials roles: CVM role from the metadata service signs the call and sends X-TC-Token") {
    asio::io_context io;
    t::scripted_server metadata(io.get_executor(), plain_http());
    t::scripted_server api(io.get_executor());
    metadata_script md;
    metadata.set_default_script({t::serve([&](const t::recorded_request& r) { return md.answer(r); })});
    api.set_default_script(
        {t::serve([](const t::recorded_request&) { return t::http_ok_json(t::api_success_body()); })});
    cbs::client c(io.get_executor(), role_params(api, metadata));
    t::run_to_end(
        io,
        [&] {
            metadata.stop();
            api.stop();
        },
        [&]() -> asio::awaitable<void> {
            for (int i = 0; i < 3; ++i) {
                auto r = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
                CHECK_FALSE(r.ec);
            }
        });
    REQUIRE(api.requests().size() == 3);
    for (const auto& r : api.requests()) {
        CHECK(credential_id(r) == "AKIDROLE1");
        CHECK(r.header("X-TC-Token") == "token-1");
    }
    // The role asked once, the credentials once: later calls use the cache.
    CHECK(md.hits["/latest/meta-data/cam/security-credentials/"] == 1);
    CHECK(md.hits["/latest/meta-data/cam/security-credentials/cbs-role"] == 1);
    const auto s = c.stats();
    CHECK(s.credential_fetches == 1);
    CHECK(s.credential_source.find("CVM role \"cbs-role\"") != std::string::npos);
}

TEST_CASE("credentials roles: no role bound (404) fails the call with a clear error, nothing sent to the API") {
    asio::io_context io;
    t::scripted_server metadata(io.get_executor(), plain_http());
    t::scripted_server api(io.get_executor());
    metadata_script md;
    md.bound = false;
    metadata.set_default_script({t::serve([&](const t::recorded_request& r) { return md.answer(r); })});
    cbs::client c(io.get_executor(), role_params(api, metadata));
    t::run_to_end(
        io,
        [&] {
            metadata.stop();
            api.stop();
        },
        [&]() -> asio::awaitable<void> {
            auto r = co_await c.async_create_snapshot_group(create_req(), cbs::as_result);
            CHECK(r.ec == client_errc::credentials_missing);
            CHECK(r.diag.client_message.find("no role bound") != std::string::npos);
            CHECK(r.diag.attempts == 0);
        });
    CHECK(api.requests().empty());
    CHECK(api.connections_accepted() == 0);  // no connection leased for a call without credentials
}

TEST_CASE("credentials roles: AuthFailure.TokenFailure: one refresh, one retry of the create, new credentials") {
    asio::io_context io;
    t::scripted_server metadata(io.get_executor(), plain_http());
    t::scripted_server api(io.get_executor());
    metadata_script md;
    metadata.set_default_script({t::serve([&](const t::recorded_request& r) { return md.answer(r); })});
    // The first request is refused as if its token had just expired; the
    // metadata service meanwhile hands out generation 2.
    int n = 0;
    api.set_default_script({t::serve([&](const t::recorded_request&) {
        if (n++ == 0) {
            md.generation = 2;
            return t::http_ok_json(t::api_error_body("AuthFailure.TokenFailure", "token expired", "req-0"));
        }
        return t::http_ok_json(t::api_success_body("req-" + std::to_string(n)));
    })});
    cbs::client c(io.get_executor(), role_params(api, metadata));
    t::run_to_end(
        io,
        [&] {
            metadata.stop();
            api.stop();
        },
        [&]() -> asio::awaitable<void> {
            auto r = co_await c.async_create_snapshot_group(create_req(), cbs::as_result);
            CHECK_FALSE(r.ec);
            CHECK(r.diag.attempts == 2);
        });
    REQUIRE(api.requests().size() == 2);
    CHECK(credential_id(api.requests()[0]) == "AKIDROLE1");
    CHECK(credential_id(api.requests()[1]) == "AKIDROLE2");
    CHECK(api.requests()[1].header("X-TC-Token") == "token-2");
    CHECK(md.hits["/latest/meta-data/cam/security-credentials/cbs-role"] == 2);  // exactly one refresh
    CHECK(c.stats().token_retries == 1);
    CHECK(c.stats().credential_refreshes == 1);
}

TEST_CASE("credentials roles: a second TokenFailure is final") {
    asio::io_context io;
    t::scripted_server metadata(io.get_executor(), plain_http());
    t::scripted_server api(io.get_executor());
    metadata_script md;
    metadata.set_default_script({t::serve([&](const t::recorded_request& r) { return md.answer(r); })});
    api.set_default_script({t::serve([](const t::recorded_request&) {
        return t::http_ok_json(t::api_error_body("AuthFailure.TokenFailure", "token refused", "req"));
    })});
    cbs::client c(io.get_executor(), role_params(api, metadata));
    t::run_to_end(
        io,
        [&] {
            metadata.stop();
            api.stop();
        },
        [&]() -> asio::awaitable<void> {
            auto r = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
            CHECK(r.ec == cbs::api_errc::auth_token_failure);
            CHECK(r.diag.attempts == 2);
        });
    CHECK(api.requests().size() == 2);
    CHECK(md.hits["/latest/meta-data/cam/security-credentials/cbs-role"] == 2);
}

TEST_CASE("credentials roles: clock skew: SignatureExpire with the server's Date, one corrected retry") {
    asio::io_context io;
    t::scripted_server api(io.get_executor());
    // The server's clock is 10 minutes ahead of the client's.
    const std::int64_t ahead = 600;
    int n = 0;
    api.set_default_script({t::serve([&](const t::recorded_request& r) {
        const auto server_now = unix_now() + ahead;
        const auto ts = std::stoll(r.header("X-TC-Timestamp"));
        std::string body = std::llabs(server_now - ts) > 300
                               ? t::api_error_body("AuthFailure.SignatureExpire", "signature expired", "req")
                               : t::api_success_body("req-ok");
        ++n;
        // An HTTP date of the server's clock.
        const std::time_t tt = server_now;
        std::tm tm{};
        ::gmtime_r(&tt, &tm);
        char date[64];
        std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: " + std::string(date) +
               "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    })});
    auto p = t::fast_client_params(api);
    cbs::client c(io.get_executor(), p);
    t::run_to_end(
        io, [&] { api.stop(); },
        [&]() -> asio::awaitable<void> {
            auto r = co_await c.async_create_snapshot_group(create_req(), cbs::as_result);
            CHECK_FALSE(r.ec);
            CHECK(r.diag.attempts == 2);
            // Later calls use the learnt offset at once.
            auto again = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
            CHECK_FALSE(again.ec);
            CHECK(again.diag.attempts == 1);
        });
    REQUIRE(api.requests().size() == 3);
    const auto ts0 = std::stoll(api.requests()[0].header("X-TC-Timestamp"));
    const auto ts1 = std::stoll(api.requests()[1].header("X-TC-Timestamp"));
    CHECK(ts1 - ts0 >= ahead - 5);
    CHECK(ts1 - ts0 <= ahead + 5);
    const auto s = c.stats();
    CHECK(s.clock_corrections == 1);
    CHECK(s.clock_skew_seconds >= ahead - 5);
    CHECK(s.clock_skew_seconds <= ahead + 5);
}

TEST_CASE("credentials roles: SignatureExpire without a Date header is final") {
    asio::io_context io;
    t::scripted_server api(io.get_executor());
    api.set_default_script({t::serve([](const t::recorded_request&) {
        return t::http_ok_json(t::api_error_body("AuthFailure.SignatureExpire", "signature expired", "req"));
    })});
    cbs::client c(io.get_executor(), t::fast_client_params(api));
    t::run_to_end(
        io, [&] { api.stop(); },
        [&]() -> asio::awaitable<void> {
            auto r = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
            CHECK(r.ec == cbs::api_errc::auth_signature_expire);
            CHECK(r.diag.attempts == 1);
        });
    CHECK(api.requests().size() == 1);
}

TEST_CASE("credentials roles: with correct_clock_skew off, SignatureExpire is final even with a Date") {
    asio::io_context io;
    t::scripted_server api(io.get_executor());
    api.set_default_script({t::serve([](const t::recorded_request&) {
        const std::string body = t::api_error_body("AuthFailure.SignatureExpire", "signature expired", "req");
        return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Thu, 03 Dec 2026 07:45:00 GMT\r\n"
               "Content-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body;
    })});
    auto p = t::fast_client_params(api);
    p.correct_clock_skew = false;
    cbs::client c(io.get_executor(), p);
    t::run_to_end(
        io, [&] { api.stop(); },
        [&]() -> asio::awaitable<void> {
            auto r = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
            CHECK(r.ec == cbs::api_errc::auth_signature_expire);
            CHECK(r.diag.attempts == 1);
        });
    CHECK(api.requests().size() == 1);
    CHECK(c.stats().clock_skew_seconds == 0);
}

TEST_CASE("credentials roles: unsigned requests send Authorization: SKIP and no token") {
    asio::io_context io;
    t::scripted_server api(io.get_executor());
    api.set_default_script(
        {t::serve([](const t::recorded_request&) { return t::http_ok_json(t::api_success_body()); })});
    auto p = t::fast_client_params(api);
    p.creds = {};
    p.unsigned_requests = true;
    cbs::client c(io.get_executor(), p);
    t::run_to_end(
        io, [&] { api.stop(); },
        [&]() -> asio::awaitable<void> {
            auto r = co_await c.async_call("AssumeRoleWithWebIdentity", {}, cbs::as_result);
            CHECK_FALSE(r.ec);
        });
    REQUIRE(api.requests().size() == 1);
    CHECK(api.requests()[0].header("Authorization") == "SKIP");
    CHECK_FALSE(api.requests()[0].has_header("X-TC-Token"));
}

// ---------------------------------------------------------------------------
// Against the embedded emulator: STS AssumeRole and AssumeRoleWithWebIdentity,
// the metadata mode, temporary credentials that expire, a clock ahead. What
// happened is read from the emulator's request log and issued credentials.

namespace {

namespace emu = cbs::emu;

constexpr const char* emu_id = "AKIDROLETESTSOURCE000000000000000000";
constexpr const char* emu_key = "role-test-source-secret-key-never-log";
constexpr const char* role_arn = "qcs::cam::uin/100000000001:roleName/cbs-test-role";

/// The emulator on its own thread (so a client's io_context can be run and
/// stopped freely), with one permanent key, one role and the metadata mode.
struct emulator_thread {
    asio::io_context io;
    std::unique_ptr<emu::emulator> server;
    std::thread thread;
    explicit emulator_thread(emu::emulator_params p) {
        server = std::make_unique<emu::emulator>(io.get_executor(), std::move(p));
        server->start();
        thread = std::thread([this] { io.run(); });
    }
    ~emulator_thread() {
        asio::post(io, [this] { server->stop(); });
        thread.join();
    }
    /// Log records of `action` (and `outcome` when given).
    std::vector<emu::request_record> log(std::string_view action, std::string_view outcome = {}) const {
        std::vector<emu::request_record> out;
        for (auto& r : server->request_log())
            if (r.action == action && (outcome.empty() || r.outcome == outcome)) out.push_back(r);
        return out;
    }
    std::set<std::string> issued_ids(std::string_view action) const {
        std::set<std::string> ids;
        for (auto& r : log(action))
            if (!r.issued_secret_id.empty()) ids.insert(r.issued_secret_id);
        return ids;
    }
};

emu::emulator_params role_emulator(std::size_t instances = 10) {
    emu::emulator_params p;
    p.fleet.instances = instances;
    p.fleet.creating_time = 300ms;
    p.accounts = {{emu_id, emu_key, ""}};
    p.roles = {role_arn};
    p.metadata = true;
    p.metadata_role = "cbs-test-role";
    return p;
}

/// A fake environment: only what the test sets.
struct fake_env {
    std::map<std::string, std::string> vars;
    cbs::getenv_function fn() const {
        return [this](const char* name) -> const char* {
            auto it = vars.find(name);
            return it == vars.end() ? nullptr : it->second.c_str();
        };
    }
};

/// The variables `cbsctl emulator` prints for this emulator, minus any keys;
/// HOME an empty directory, so no credentials file is found.
fake_env emulator_env(const emulator_thread& e, const std::string& home) {
    fake_env env;
    env.vars = {{"CBS_ENDPOINT", e.server->endpoint()},
                {"CBS_CA_FILE", e.server->ca_file()},
                {"CBS_REGION", "ap-guangzhou"},
                {"CBS_STS_ENDPOINT", e.server->endpoint()},
                {"HOME", home}};
    return env;
}

struct temp_home {
    std::string path;
    temp_home() {
        char tmpl[] = "/tmp/cbs_roles_test_XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~temp_home() { std::filesystem::remove_all(path); }
    std::string write(const std::string& name, const std::string& text) {
        auto p = path + "/" + name;
        std::ofstream(p) << text;
        std::filesystem::permissions(p, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
        return p;
    }
};

/// Runs `n` DescribeDisks calls on a client made from `p`; returns the client's stats.
cbs::client_stats describe(cbs::client_params p, int n, std::vector<cbs::error_code>* errors = nullptr) {
    asio::io_context io;
    cbs::client c(io.get_executor(), std::move(p));
    bool done = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            for (int i = 0; i < n; ++i) {
                auto r = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
                if (errors) errors->push_back(r.ec);
                CHECK_MESSAGE(!r.ec, r.diag.to_string(r.ec));
            }
            done = true;
        },
        [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    io.run_for(60s);
    REQUIRE(done);
    return c.stats();
}

}  // namespace

TEST_CASE("credentials roles (emulator): the CVM role from the metadata mode, via from_env and the default chain") {
    emulator_thread e(role_emulator());
    temp_home home;
    auto env = emulator_env(e, home.path);
    env.vars["CBS_METADATA_ENDPOINT"] = e.server->metadata_endpoint();
    auto p = cbs::client_params::from_env(env.fn());
    CHECK(p.endpoint == e.server->endpoint());
    CHECK(p.pool.ca_file == e.server->ca_file());
    auto s = describe(p, 3);
    CHECK(s.credential_source.find("CVM role \"cbs-test-role\"") != std::string::npos);
    const auto issued = e.issued_ids("metadata:credentials");
    REQUIRE(issued.size() == 1);
    const auto calls = e.log("DescribeDisks", "ok");
    REQUIRE(calls.size() == 3);
    for (const auto& r : calls) CHECK(r.secret_id == *issued.begin());  // signed with the role's credentials
    CHECK(e.log("metadata:role").size() == 1);
    CHECK(e.log("metadata:credentials").size() == 1);
}

TEST_CASE("credentials roles (emulator): a profile's role_arn: STS AssumeRole signed with the profile's keys") {
    emulator_thread e(role_emulator());
    temp_home home;
    const auto file = home.write("credentials", "[default]\nsecret_id = " + std::string(emu_id) +
                                                    "\nsecret_key = " + emu_key + "\nrole_arn = " + role_arn +
                                                    "\nrole_session_name = roles-test\nduration_seconds = 900\n");
    auto env = emulator_env(e, home.path);
    env.vars["TENCENTCLOUD_CREDENTIALS_FILE"] = file;
    auto s = describe(cbs::client_params::from_env(env.fn()), 2);
    CHECK(s.credential_source.find("STS AssumeRole " + std::string(role_arn)) != std::string::npos);
    const auto assumed = e.log("AssumeRole", "ok");
    REQUIRE(assumed.size() == 1);
    CHECK(assumed[0].secret_id == emu_id);  // signed with the profile's keys
    const auto issued = e.server->issued_credentials();
    REQUIRE(issued.size() == 1);
    CHECK(issued[0].role_arn == role_arn);
    CHECK(issued[0].session_name == "roles-test");
    CHECK(issued[0].expired_time - issued[0].issued_time == 900);
    for (const auto& r : e.log("DescribeDisks", "ok")) CHECK(r.secret_id == issued[0].secret_id);
    CHECK(e.log("DescribeDisks", "ok").size() == 2);
    CHECK(e.log("metadata:role").empty());  // the chain stopped at the profile
}

TEST_CASE("credentials roles (emulator): TKE OIDC AssumeRoleWithWebIdentity from a token file, unsigned") {
    auto ep = role_emulator();
    ep.oidc_provider_id = "tke-oidc-provider";
    ep.oidc_token = "oidc-web-identity-token-value";
    emulator_thread e(std::move(ep));
    temp_home home;
    auto env = emulator_env(e, home.path);
    env.vars["TKE_REGION"] = "ap-guangzhou";
    env.vars["TKE_PROVIDER_ID"] = "tke-oidc-provider";
    env.vars["TKE_WEB_IDENTITY_TOKEN_FILE"] = home.write("token", "oidc-web-identity-token-value\n");
    env.vars["TKE_ROLE_ARN"] = role_arn;
    auto s = describe(cbs::client_params::from_env(env.fn()), 2);
    CHECK(s.credential_source.find("TKE OIDC") != std::string::npos);
    const auto assumed = e.log("AssumeRoleWithWebIdentity", "ok");
    REQUIRE(assumed.size() == 1);
    CHECK(assumed[0].secret_id.empty());  // Authorization: SKIP
    for (const auto& r : e.log("DescribeDisks", "ok")) CHECK(r.secret_id == assumed[0].issued_secret_id);
    CHECK(e.log("DescribeDisks", "ok").size() == 2);
}

TEST_CASE("credentials roles (emulator): nothing anywhere: the error lists every source, the CVM role's 404 last") {
    auto ep = role_emulator();
    ep.metadata_role.clear();  // no role bound
    emulator_thread e(std::move(ep));
    temp_home home;
    auto env = emulator_env(e, home.path);
    env.vars["CBS_METADATA_ENDPOINT"] = e.server->metadata_endpoint();
    asio::io_context io;
    cbs::client c(io.get_executor(), cbs::client_params::from_env(env.fn()));
    std::optional<cbs::result<boost::json::object>> r;
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { r = co_await c.async_call("DescribeDisks", {}, cbs::as_result); },
        asio::detached);
    io.run_for(30s);
    REQUIRE(r);
    CHECK(r->ec == client_errc::credentials_missing);
    const auto& m = r->diag.client_message;
    CAPTURE(m);
    CHECK(m.find("explicit credentials") != std::string::npos);
    CHECK(m.find("TENCENTCLOUD_SECRET_ID") != std::string::npos);
    CHECK(m.find(home.path + "/.tencentcloud/credentials (not found)") != std::string::npos);
    CHECK(m.find("TKE OIDC") != std::string::npos);
    CHECK(m.find("no role bound") != std::string::npos);
    CHECK(e.log("DescribeDisks").empty());
}

TEST_CASE("credentials roles (emulator): an expired token: exactly one refresh and one retry") {
    emulator_thread e(role_emulator());
    cbs::client_params p;
    p.endpoint = e.server->endpoint();
    p.pool.ca_file = e.server->ca_file();
    cbs::cvm_role_params cp;
    cp.endpoint = e.server->metadata_endpoint();
    p.credentials_provider = cbs::make_cvm_role_provider(cp);
    asio::io_context io;
    cbs::client c(io.get_executor(), p);
    bool done = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            auto r = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
            CHECK_FALSE(r.ec);
            e.server->expire_issued_credentials();
            auto r2 = co_await c.async_call("DescribeDisks", {}, cbs::as_result);
            CHECK_FALSE(r2.ec);
            CHECK(r2.diag.attempts == 2);
            done = true;
        },
        asio::detached);
    io.run_for(30s);
    REQUIRE(done);
    const auto calls = e.log("DescribeDisks");
    REQUIRE(calls.size() == 3);
    CHECK(calls[0].outcome == "ok");
    CHECK(calls[1].outcome == "AuthFailure.TokenFailure");
    CHECK(calls[2].outcome == "ok");
    CHECK(calls[1].secret_id == calls[0].secret_id);
    CHECK(calls[2].secret_id != calls[1].secret_id);   // signed with the refreshed credentials
    CHECK(e.log("metadata:credentials").size() == 2);  // exactly one refresh
    CHECK(c.stats().token_retries == 1);
}

TEST_CASE("credentials roles (emulator): the emulator's clock 10 minutes ahead: one corrected retry") {
    auto ep = role_emulator();
    ep.unix_time = [] { return unix_now() + 600; };
    emulator_thread e(std::move(ep));
    cbs::client_params p;
    p.endpoint = e.server->endpoint();
    p.pool.ca_file = e.server->ca_file();
    p.creds = {emu_id, emu_key, "", "explicit"};
    auto s = describe(p, 2);
    const auto calls = e.log("DescribeDisks");
    REQUIRE(calls.size() == 3);
    CHECK(calls[0].outcome == "AuthFailure.SignatureExpire");
    CHECK(calls[1].outcome == "ok");
    CHECK(calls[2].outcome == "ok");  // later calls: corrected from the start
    CHECK(s.clock_corrections == 1);
    CHECK(s.clock_skew_seconds >= 595);
    CHECK(s.clock_skew_seconds <= 605);
}

TEST_CASE(
    "fleet adversity: 200 instances on CVM role credentials that expire every 20 s: no failed call, several "
    "refreshes") {
    auto ep = role_emulator(200);
    ep.temp_credential_lifetime = 20s;
    ep.fleet.creating_time = 30s;  // the run outlives two lifetimes at least
    emulator_thread e(std::move(ep));
    std::vector<std::string> instances;
    e.server->inspect([&](emu::fleet_state& s) { instances = s.instance_ids(); });

    cbs::client_params p;
    p.endpoint = e.server->endpoint();
    p.pool.ca_file = e.server->ca_file();
    p.request_timeout = 5s;
    p.retry.transient_base = p.retry.network_base = p.retry.throttle_base = 10ms;
    p.retry.busy_base = 50ms;
    p.retry.transient_cap = p.retry.network_cap = p.retry.throttle_cap = p.retry.busy_cap = 200ms;
    cbs::cvm_role_params cp;
    cp.endpoint = e.server->metadata_endpoint();
    p.credentials_provider = cbs::make_cvm_role_provider(cp);

    cbs::fleet_params fp;
    fp.instance_ids = instances;
    fp.run_id = "roles";
    fp.poll_interval = 500ms;
    fp.consistency_window = 1s;
    fp.busy_disk_wait = 5s;

    asio::io_context io;
    cbs::client c(io.get_executor(), p);
    std::optional<cbs::fleet_report> report;
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { report = co_await cbs::async_snapshot_fleet(c, fp); },
        [](std::exception_ptr ex) {
            if (ex) std::rethrow_exception(ex);
        });
    io.run_for(180s);
    REQUIRE(report);
    CHECK(report->all_ok);
    CHECK(report->summary.instances == 200);
    CHECK(report->summary.normal + report->summary.skipped == 200);

    // The credentials were refreshed ahead of expiry, several times: the
    // metadata service handed out several credentials, and every CBS call
    // was signed with one the service still accepted.
    const auto issued = e.issued_ids("metadata:credentials");
    CAPTURE(issued.size());
    CHECK(issued.size() >= 3);
    std::size_t cbs_calls = 0;
    std::set<std::string> signed_with;
    for (const auto& r : e.server->request_log()) {
        if (r.action.starts_with("metadata:")) continue;
        ++cbs_calls;
        signed_with.insert(r.secret_id);
        CAPTURE(r.action);
        CAPTURE(r.outcome);
        CHECK(r.outcome != "AuthFailure.TokenFailure");
        CHECK(r.outcome != "AuthFailure.SignatureExpire");
    }
    CHECK(cbs_calls > 200);
    CHECK(signed_with.size() >= 3);
    for (const auto& id : signed_with) CHECK(issued.count(id) == 1);
    // Refreshes, not a fetch per call: a handful of metadata requests.
    CHECK(e.log("metadata:credentials").size() < 3 * issued.size() + 3);
    CHECK(c.stats().credential_refreshes >= 2);
}
