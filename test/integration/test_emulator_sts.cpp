// The emulator's credential service: STS AssumeRole / AssumeRoleWithWebIdentity
// over real TLS (the real client, and raw requests for the unsigned one), the
// temporary credentials they issue accepted by CBS actions with X-TC-Token
// until they expire on the emulator's clock, the CVM metadata mode over plain
// HTTP, the Date header, and the request log entries of all of it.
#include "support/run_to_end.hpp"

#include <cbs/client.hpp>
#include <cbs/emulator/emulator.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <doctest/doctest.h>

#include <openssl/ssl.h>

#include <atomic>
#include <ctime>
#include <set>
#include <stdexcept>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace emu = cbs::emu;
using namespace std::chrono_literals;

namespace {

constexpr const char* test_id = "AKIDSTSTEST00000000000000000000000";
constexpr const char* test_key = "sts-test-secret-key-do-not-log";
constexpr const char* static_temp_id = "AKIDSTATICTEMPORARY";
constexpr const char* role_arn = "qcs::cam::uin/100000000001:roleName/fleet-role";
constexpr const char* provider_id = "tke-cluster-oidc";
constexpr const char* web_token = "eyJhbGciOiJSUzI1NiJ9.web-identity-token-for-tests.sig";

std::int64_t system_unix() {
    return static_cast<std::int64_t>(std::time(nullptr));
}

/// The emulator's unix time: the system's when the test began, moved only
/// by the test (the client keeps signing with the system clock: the two
/// stay well within max_skew).
struct server_clock {
    std::int64_t base = system_unix();
    std::shared_ptr<std::atomic<std::int64_t>> offset = std::make_shared<std::atomic<std::int64_t>>(0);
    std::function<std::int64_t()> fn() const {
        return [b = base, o = offset] { return b + o->load(); };
    }
    std::int64_t now() const { return base + offset->load(); }
    void advance(std::int64_t s) const { *offset += s; }
};

emu::emulator_params sts_params(const server_clock& clk) {
    emu::emulator_params p;
    p.fleet.instances = 3;
    p.accounts = {{test_id, test_key, "", "100000000001"}, {static_temp_id, "static-temp-key", "static-token"}};
    p.roles = {role_arn, "qcs::cam::uin/200000000002:roleName/other-account-role"};
    p.temp_credential_lifetime = 20s;
    p.oidc_provider_id = provider_id;
    p.oidc_token = web_token;
    p.unix_time = clk.fn();
    p.rate_limits.throttle_codes = {{"RequestLimitExceeded", 1}};
    return p;
}

cbs::client_params client_for(const emu::emulator& e, cbs::credentials creds) {
    cbs::client_params p;
    p.endpoint = e.endpoint();
    p.pool.ca_file = e.ca_file();
    p.creds = std::move(creds);
    p.request_timeout = 5s;
    p.rate_limit = false;  // the emulator's limits are what is tested
    p.retry.throttle_max_attempts = p.retry.transient_max_attempts = p.retry.network_max_attempts =
        p.retry.busy_max_attempts = 1;
    return p;
}

/// A client of the emulator's STS (service "sts", version 2018-08-13).
cbs::client_params sts_client_for(const emu::emulator& e, cbs::credentials creds) {
    auto p = client_for(e, std::move(creds));
    p.service = "sts";
    p.version = "2018-08-13";
    return p;
}

cbs::credentials permanent() {
    return {test_id, test_key, "", "explicit"};
}

/// The temporary credentials of an STS answer.
cbs::credentials issued_creds(const json::object& response) {
    const auto& c = response.at("Credentials").as_object();
    return {std::string(c.at("TmpSecretId").as_string()), std::string(c.at("TmpSecretKey").as_string()),
            std::string(c.at("Token").as_string()), "sts"};
}

json::object assume_body(std::string arn = role_arn, std::string session = "fleet-run") {
    return {{"RoleArn", std::move(arn)}, {"RoleSessionName", std::move(session)}};
}

std::string strftime_utc(std::int64_t t, const char* fmt) {
    const std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[64];
    const std::size_t n = std::strftime(buf, sizeof buf, fmt, &tm);
    return {buf, n};
}

std::string imf_fixdate(std::int64_t t) {
    return strftime_utc(t, "%a, %d %b %Y %H:%M:%S GMT");  // the C locale's names are the IMF ones
}

template <class F>
void run(asio::io_context& io, emu::emulator& e, F body, std::chrono::seconds limit = 30s) {
    cbs::test::run_to_end(
        io, [&] { e.stop(); }, std::move(body), limit);
}

asio::awaitable<cbs::result<json::object>> call(cbs::client_params p, std::string action, json::object body) {
    auto ex = co_await asio::this_coro::executor;
    cbs::client c(ex, std::move(p));
    co_return co_await c.async_call(std::move(action), std::move(body), cbs::as_result);
}

asio::awaitable<cbs::result<json::object>> describe(const emu::emulator& e, cbs::credentials creds) {
    json::object body{{"Limit", 1}};  // outside the co_await: see paths()
    co_return co_await call(client_for(e, std::move(creds)), "DescribeDisks", std::move(body));
}

struct raw_reply {
    boost::system::error_code ec;
    unsigned status = 0;
    std::string body, date, code;
    json::object response;  ///< Response, when the body is the envelope
};

void parse_envelope(raw_reply& out) {
    boost::system::error_code jec;
    auto v = json::parse(out.body, jec);
    if (jec || !v.is_object()) return;
    if (auto* r = v.as_object().if_contains("Response"); r && r->is_object()) {
        out.response = r->as_object();
        if (auto* err = out.response.if_contains("Error"))
            out.code = std::string(err->as_object().at("Code").as_string());
    }
}

/// One raw HTTPS POST to the emulator with the given extra headers (the
/// unsigned AssumeRoleWithWebIdentity the client cannot send).
asio::awaitable<raw_reply> raw_post(const emu::emulator& e, std::string headers, std::string body) {
    using asio::ip::tcp;
    constexpr auto tuple = asio::as_tuple(asio::use_awaitable);
    raw_reply out;
    auto ex = co_await asio::this_coro::executor;
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.load_verify_file(e.ca_file());
    ctx.set_verify_mode(asio::ssl::verify_peer);
    asio::ssl::stream<beast::tcp_stream> s(ex, ctx);
    SSL_set_tlsext_host_name(s.native_handle(), "localhost");
    s.set_verify_callback(asio::ssl::host_name_verification("localhost"));
    auto& raw = beast::get_lowest_layer(s);
    raw.expires_after(10s);
    std::tie(out.ec) = co_await raw.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), e.port()), tuple);
    if (out.ec) co_return out;
    std::tie(out.ec) = co_await s.async_handshake(asio::ssl::stream_base::client, tuple);
    if (out.ec) co_return out;
    const std::string request =
        "POST / HTTP/1.1\r\nHost: localhost:" + std::to_string(e.port()) + "\r\nContent-Type: application/json\r\n" +
        headers + "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    std::size_t n = 0;
    std::tie(out.ec, n) = co_await asio::async_write(s, asio::buffer(request), tuple);
    if (out.ec) co_return out;
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    std::tie(out.ec, n) = co_await http::async_read(s, buf, res, tuple);
    raw.close();
    if (out.ec) co_return out;
    out.status = res.result_int();
    out.body = res.body();
    out.date = std::string(res[http::field::date]);
    parse_envelope(out);
    co_return out;
}

/// AssumeRoleWithWebIdentity as the SDKs send it: `Authorization: SKIP`.
asio::awaitable<raw_reply> web_identity(const emu::emulator& e, json::object body,
                                        std::string action = "AssumeRoleWithWebIdentity") {
    const std::string headers = "Authorization: SKIP\r\nX-TC-Action: " + action +
                                "\r\nX-TC-Version: 2018-08-13\r\nX-TC-Region: ap-guangzhou\r\nX-TC-Timestamp: " +
                                std::to_string(system_unix()) + "\r\n";
    co_return co_await raw_post(e, headers, json::serialize(body));
}

json::object web_identity_body(std::string token = web_token, std::string provider = provider_id) {
    return {{"ProviderId", std::move(provider)},
            {"WebIdentityToken", std::move(token)},
            {"RoleArn", role_arn},
            {"RoleSessionName", "tke-pod"}};
}

struct http_reply {
    boost::system::error_code ec;
    unsigned status = 0;
    std::string body, content_type, date;
};

/// Plain-HTTP requests to the metadata service, all on one keep-alive connection.
asio::awaitable<std::vector<http_reply>> metadata_get(const emu::emulator& e, std::vector<std::string> targets,
                                                      http::verb method = http::verb::get) {
    using asio::ip::tcp;
    constexpr auto tuple = asio::as_tuple(asio::use_awaitable);
    std::vector<http_reply> out;
    auto ex = co_await asio::this_coro::executor;
    beast::tcp_stream s(ex);
    s.expires_after(10s);
    boost::system::error_code ec;
    std::tie(ec) =
        co_await s.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), e.metadata_port()), tuple);
    beast::flat_buffer buf;
    for (const auto& t : targets) {
        http_reply r;
        r.ec = ec;
        if (!ec) {
            http::request<http::empty_body> req{method, t, 11};
            req.set(http::field::host, "metadata.tencentyun.com");
            req.keep_alive(true);
            std::size_t n = 0;
            std::tie(ec, n) = co_await http::async_write(s, req, tuple);
            http::response<http::string_body> res;
            if (!ec) std::tie(ec, n) = co_await http::async_read(s, buf, res, tuple);
            r.ec = ec;
            r.status = res.result_int();
            r.body = res.body();
            r.content_type = std::string(res[http::field::content_type]);
            r.date = std::string(res[http::field::date]);
        }
        out.push_back(std::move(r));
    }
    s.close();
    co_return out;
}

/// The targets of metadata_get. (GCC 12 rejects a braced list, i.e. an
/// initializer_list's array, inside a co_await expression.)
template <class... T>
std::vector<std::string> paths(const T&... t) {
    return {std::string(t)...};
}

constexpr const char* creds_path = "/latest/meta-data/cam/security-credentials/";
constexpr std::int64_t fixed = 1796256000 + 3723;  // a Thursday, 01:02:03 UTC

std::vector<emu::request_record> log_of(const emu::emulator& e, std::string_view action) {
    std::vector<emu::request_record> out;
    for (auto& r : e.request_log())
        if (r.action == action) out.push_back(r);
    return out;
}

}  // namespace

TEST_CASE("emulator sts: AssumeRole credentials are accepted with X-TC-Token until they expire") {
    asio::io_context io;
    server_clock clk;
    emu::emulator e(io.get_executor(), sts_params(clk));
    e.start();
    cbs::credentials tmp, shorter;
    run(io, e, [&]() -> asio::awaitable<void> {
        auto body = assume_body();
        body["DurationSeconds"] = 3600;  // above the configured 20 s lifetime: 20 s are issued
        auto r = co_await call(sts_client_for(e, permanent()), "AssumeRole", body);
        REQUIRE_MESSAGE(!r.ec, r.diag.to_string(r.ec));
        tmp = issued_creds(r.value);
        CHECK(tmp.secret_id.starts_with("AKID"));
        CHECK(tmp.secret_key.size() >= 32);
        CHECK(tmp.token.size() >= 64);
        const auto expired = r.value.at("ExpiredTime").as_int64();
        CHECK(expired == clk.now() + 20);
        CHECK(r.value.at("Expiration").as_string() == strftime_utc(expired, "%Y-%m-%dT%H:%M:%SZ"));

        // A DurationSeconds below the lifetime is what is issued.
        auto b10 = assume_body(role_arn, "short-one");
        b10["DurationSeconds"] = 10;
        auto r10 = co_await call(sts_client_for(e, permanent()), "AssumeRole", b10);
        REQUIRE_MESSAGE(!r10.ec, r10.diag.to_string(r10.ec));
        shorter = issued_creds(r10.value);
        CHECK(r10.value.at("ExpiredTime").as_int64() == clk.now() + 10);

        auto ok = co_await describe(e, tmp);
        CHECK_MESSAGE(!ok.ec, ok.diag.to_string(ok.ec));
        auto wrong = tmp;
        wrong.token = "not-the-token";
        CHECK((co_await describe(e, wrong)).diag.server_code == "AuthFailure.TokenFailure");
        auto missing = tmp;
        missing.token.clear();
        CHECK((co_await describe(e, missing)).diag.server_code == "AuthFailure.TokenFailure");
        auto swapped = tmp;
        swapped.token = shorter.token;  // another credential's token
        CHECK((co_await describe(e, swapped)).diag.server_code == "AuthFailure.TokenFailure");

        clk.advance(12);  // past the 10 s credential, not the 20 s one
        CHECK((co_await describe(e, shorter)).diag.server_code == "AuthFailure.TokenFailure");
        CHECK(!(co_await describe(e, tmp)).ec);
        clk.advance(10);  // past both
        auto late = co_await describe(e, tmp);
        CHECK(late.diag.server_code == "AuthFailure.TokenFailure");
        CHECK(late.diag.server_message.find("expired") != std::string::npos);
        // The permanent key is unaffected.
        CHECK(!(co_await describe(e, permanent())).ec);
    });

    // The log: which key asked, which SecretId was issued, which signed each call.
    auto assume = log_of(e, "AssumeRole");
    REQUIRE(assume.size() == 2);
    CHECK(assume[0].secret_id == test_id);
    CHECK(assume[0].outcome == "ok");
    CHECK(assume[0].issued_secret_id == tmp.secret_id);
    CHECK(assume[1].issued_secret_id == shorter.secret_id);
    std::size_t ok_with_tmp = 0, refused_tmp = 0;
    for (const auto& r : log_of(e, "DescribeDisks")) {
        CHECK(r.issued_secret_id.empty());
        if (r.secret_id == tmp.secret_id && r.outcome == "ok") ++ok_with_tmp;
        if (r.secret_id == tmp.secret_id && r.outcome == "AuthFailure.TokenFailure") ++refused_tmp;
    }
    CHECK(ok_with_tmp == 2);
    CHECK(refused_tmp >= 4);  // wrong, missing, swapped tokens and the expired one (a client may retry once)
    auto issued = e.issued_credentials();
    REQUIRE(issued.size() == 2);
    CHECK(issued[0].secret_id == tmp.secret_id);
    CHECK(issued[0].source == "AssumeRole");
    CHECK(issued[0].role_arn == role_arn);
    CHECK(issued[0].session_name == "fleet-run");
    CHECK(issued[0].expired_time - issued[0].issued_time == 20);
    CHECK(issued[1].expired_time - issued[1].issued_time == 10);
    for (const auto& r : e.request_log()) {
        CHECK(r.secret_id != tmp.secret_key);
        CHECK(r.issued_secret_id != tmp.token);
    }
}

TEST_CASE("emulator sts: expire_issued_credentials() ends every issued credential at once") {
    asio::io_context io;
    server_clock clk;
    auto p = sts_params(clk);
    p.temp_credential_lifetime = 3600s;
    emu::emulator e(io.get_executor(), p);
    e.start();
    run(io, e, [&]() -> asio::awaitable<void> {
        auto r = co_await call(sts_client_for(e, permanent()), "AssumeRole", assume_body());
        REQUIRE(!r.ec);
        CHECK(r.value.at("ExpiredTime").as_int64() == clk.now() + 3600);
        const auto tmp = issued_creds(r.value);
        CHECK(!(co_await describe(e, tmp)).ec);
        e.expire_issued_credentials();
        CHECK((co_await describe(e, tmp)).diag.server_code == "AuthFailure.TokenFailure");
    });
}

TEST_CASE("emulator sts: AssumeRole refusals, each with the service's code") {
    asio::io_context io;
    server_clock clk;
    emu::emulator e(io.get_executor(), sts_params(clk));
    e.start();
    run(io, e, [&]() -> asio::awaitable<void> {
        struct named {
            const char* name;
            json::object body;
            const char* code;
        };
        auto with = [](const char* key, json::value v) {
            auto b = assume_body();
            b[key] = std::move(v);
            return b;
        };
        std::vector<named> cases = {
            {"malformed RoleArn", assume_body("arn:aws:iam::123:role/x"), "InvalidParameter.ParamError"},
            {"RoleArn without digits", assume_body("qcs::cam::uin/abc:roleName/fleet-role"),
             "InvalidParameter.ParamError"},
            {"role not configured", assume_body("qcs::cam::uin/100000000001:roleName/nobody"),
             "ResourceNotFound.RoleNotFound"},
            {"RoleArn missing", json::object{{"RoleSessionName", "s1"}}, "MissingParameter"},
            {"RoleSessionName missing", json::object{{"RoleArn", role_arn}}, "MissingParameter"},
            {"RoleSessionName too short", assume_body(role_arn, "a"), "InvalidParameter.ParamError"},
            {"RoleSessionName with a space", assume_body(role_arn, "my session"), "InvalidParameter.ParamError"},
            {"RoleArn not a string", with("RoleArn", 42), "InvalidParameter.ParamError"},
            {"DurationSeconds 0", with("DurationSeconds", 0), "InvalidParameter.OverTimeError"},
            {"DurationSeconds 43201", with("DurationSeconds", 43201), "InvalidParameter.OverTimeError"},
            {"DurationSeconds negative", with("DurationSeconds", -5), "InvalidParameter.OverTimeError"},
            {"DurationSeconds a string", with("DurationSeconds", "7200"), "InvalidParameter.ParamError"},
            {"DurationSeconds 43200", with("DurationSeconds", 43200), ""},
            {"another account's configured role", assume_body("qcs::cam::uin/200000000002:roleName/other-account-role"),
             ""},
        };
        for (auto& c : cases) {
            CAPTURE(c.name);
            auto r = co_await call(sts_client_for(e, permanent()), "AssumeRole", c.body);
            CHECK(r.diag.server_code == c.code);
            CHECK(bool(r.ec) == (std::string_view(c.code) != ""));
        }

        // Temporary credentials may not assume a role: issued ones, or a key configured with a token.
        auto ok = co_await call(sts_client_for(e, permanent()), "AssumeRole", assume_body());
        REQUIRE(!ok.ec);
        auto chained = co_await call(sts_client_for(e, issued_creds(ok.value)), "AssumeRole", assume_body());
        CHECK(chained.diag.server_code == "UnauthorizedOperation");
        const cbs::credentials static_creds{static_temp_id, "static-temp-key", "static-token", "x"};
        auto static_temp = co_await call(sts_client_for(e, static_creds), "AssumeRole", assume_body());
        CHECK(static_temp.diag.server_code == "UnauthorizedOperation");

        // Service / version pairs.
        auto cbs_version = sts_client_for(e, permanent());
        cbs_version.version = "2017-03-12";
        CHECK((co_await call(cbs_version, "AssumeRole", assume_body())).diag.server_code == "NoSuchVersion");
        auto cbs_scope = sts_client_for(e, permanent());
        cbs_scope.service = "cbs";
        CHECK((co_await call(cbs_scope, "AssumeRole", assume_body())).diag.server_code ==
              "AuthFailure.InvalidAuthorization");
        auto sts_scope_for_cbs = client_for(e, permanent());
        sts_scope_for_cbs.service = "sts";
        CHECK((co_await call(sts_scope_for_cbs, "DescribeDisks", {})).diag.server_code ==
              "AuthFailure.InvalidAuthorization");
        auto sts_version_for_cbs = client_for(e, permanent());
        sts_version_for_cbs.version = "2018-08-13";
        CHECK((co_await call(sts_version_for_cbs, "DescribeDisks", {})).diag.server_code == "NoSuchVersion");
        CHECK((co_await call(sts_client_for(e, permanent()), "GetFederationToken", {})).diag.server_code ==
              "InvalidAction");
    });
    for (const auto& r : log_of(e, "AssumeRole")) CHECK(r.issued_secret_id.empty() == (r.outcome != "ok"));
}

TEST_CASE("emulator sts: AssumeRoleWithWebIdentity, unsigned, with the configured provider and token") {
    asio::io_context io;
    server_clock clk;
    emu::emulator e(io.get_executor(), sts_params(clk));
    e.start();
    run(io, e, [&]() -> asio::awaitable<void> {
        auto r = co_await web_identity(e, web_identity_body());
        REQUIRE_MESSAGE(r.code.empty(), r.body);
        CHECK(r.status == 200);
        const auto tmp = issued_creds(r.response);
        CHECK(r.response.at("ExpiredTime").as_int64() == clk.now() + 20);
        CHECK(!r.response.at("Expiration").as_string().empty());
        CHECK(!(co_await describe(e, tmp)).ec);

        auto wrong = co_await web_identity(e, web_identity_body("eyJ.wrong-token.sig"));
        CHECK(wrong.code == "InvalidParameter.WebIdentityTokenError");
        CHECK(wrong.body.find("wrong-token") == std::string::npos);  // never echoed
        CHECK(wrong.body.find(web_token) == std::string::npos);
        auto provider = co_await web_identity(e, web_identity_body(web_token, "another-provider"));
        CHECK(provider.code == "InvalidParameter.ParamError");
        CHECK(provider.body.find("ProviderId") != std::string::npos);
        auto no_token = web_identity_body();
        no_token.erase("WebIdentityToken");
        CHECK((co_await web_identity(e, no_token)).code == "MissingParameter");
        auto bad_role = web_identity_body();
        bad_role["RoleArn"] = "qcs::cam::uin/100000000001:roleName/nobody";
        CHECK((co_await web_identity(e, bad_role)).code == "ResourceNotFound.RoleNotFound");
        // SKIP is for AssumeRoleWithWebIdentity only.
        CHECK((co_await web_identity(e, assume_body(), "AssumeRole")).code == "AuthFailure.InvalidAuthorization");
    });
    auto log = log_of(e, "AssumeRoleWithWebIdentity");
    REQUIRE(log.size() == 5);
    CHECK(log[0].outcome == "ok");
    CHECK(log[0].secret_id.empty());
    CHECK(!log[0].issued_secret_id.empty());
    CHECK(log[1].outcome == "InvalidParameter.WebIdentityTokenError");
    CHECK(log[1].issued_secret_id.empty());
    REQUIRE(e.issued_credentials().size() == 1);
    CHECK(e.issued_credentials()[0].source == "AssumeRoleWithWebIdentity");
    CHECK(e.issued_credentials()[0].session_name == "tke-pod");
}

TEST_CASE("emulator sts: every answer carries a Date header from the emulator's clock") {
    asio::io_context io;
    server_clock clk;
    auto p = sts_params(clk);
    p.unix_time = [] { return fixed; };
    p.metadata = true;
    p.metadata_role = "cvm-role";
    emu::emulator e(io.get_executor(), p);
    e.start();
    run(io, e, [&]() -> asio::awaitable<void> {
        const std::string headers =
            "Authorization: SKIP\r\nX-TC-Action: AssumeRoleWithWebIdentity\r\nX-TC-Version: 2018-08-13\r\n"
            "X-TC-Region: ap-guangzhou\r\nX-TC-Timestamp: " +
            std::to_string(fixed) + "\r\n";
        auto ok = co_await raw_post(e, headers, json::serialize(web_identity_body()));
        CHECK(ok.code.empty());
        CHECK(ok.date == imf_fixdate(fixed));
        CHECK(ok.date == "Thu, 03 Dec 2026 01:02:03 GMT");
        CHECK(ok.response.at("Expiration").as_string() == "2026-12-03T01:02:23Z");
        const std::string only_action = "X-TC-Action: DescribeDisks\r\n", empty = "{}";
        auto err = co_await raw_post(e, only_action, empty);  // MissingParameter
        CHECK(err.code == "MissingParameter");
        CHECK(err.date == imf_fixdate(fixed));
        // A client whose clock is 10 minutes behind the server's is refused, and
        // the answer's Date is what it needs to correct itself (a client that
        // does so succeeds on its retry).
        auto cp = client_for(e, permanent());
        cp.unix_time = [] { return fixed - 600; };
        e.clear_request_log();
        auto skewed = co_await call(cp, "DescribeDisks", json::object{});
        const auto describes = log_of(e, "DescribeDisks");
        REQUIRE(!describes.empty());
        CHECK(describes.front().outcome == "AuthFailure.SignatureExpire");
        if (skewed.ec)
            CHECK(skewed.diag.server_code == "AuthFailure.SignatureExpire");
        else
            CHECK(describes.back().outcome == "ok");
        auto md = co_await metadata_get(e, paths(creds_path));
        REQUIRE(md.size() == 1);
        CHECK(md[0].date == imf_fixdate(fixed));
    });
}

TEST_CASE("emulator sts: metadata mode without a role answers 404") {
    asio::io_context io;
    server_clock clk;
    auto p = sts_params(clk);
    p.metadata = true;
    emu::emulator e(io.get_executor(), p);
    e.start();
    REQUIRE(e.metadata_port() != 0);
    CHECK(e.metadata_port() != e.port());
    CHECK(e.metadata_endpoint() == "http://127.0.0.1:" + std::to_string(e.metadata_port()));
    run(io, e, [&]() -> asio::awaitable<void> {
        std::vector<std::string> targets{creds_path, "/latest/meta-data/cam/security-credentials",
                                         std::string(creds_path) + "cvm-role"};
        auto r = co_await metadata_get(e, std::move(targets));
        REQUIRE(r.size() == 3);
        for (const auto& x : r) {
            CHECK(!x.ec);
            CHECK(x.status == 404);
        }
    });
    auto log = e.request_log();
    REQUIRE(log.size() == 3);
    CHECK(log[0].action == "metadata:role");
    CHECK(log[0].outcome == "HTTP 404");
    CHECK(log[2].action == "metadata:credentials");
    CHECK(e.issued_credentials().empty());
}

TEST_CASE("emulator sts: metadata mode serves the same credentials until close to expiry, then new ones") {
    asio::io_context io;
    server_clock clk;
    auto p = sts_params(clk);
    p.metadata = true;
    p.metadata_role = "fleet-role";    // the roleName of role_arn: its account's credentials
    p.temp_credential_lifetime = 30s;  // re-issued from 10 s before expiry (a third of 30 s)
    emu::emulator e(io.get_executor(), p);
    e.start();
    const std::string role_url = std::string(creds_path) + "fleet-role";
    std::string first_id, second_id;
    run(io, e, [&]() -> asio::awaitable<void> {
        auto r = co_await metadata_get(e, paths(creds_path, role_url, role_url));
        REQUIRE(r.size() == 3);
        CHECK(r[0].status == 200);
        CHECK(r[0].body == "fleet-role");
        REQUIRE(r[1].status == 200);
        CHECK(r[1].content_type == "application/json");
        const auto a = json::parse(r[1].body).as_object();
        const auto b = json::parse(r[2].body).as_object();
        CHECK(a.at("Code").as_string() == "Success");
        CHECK(a.at("ExpiredTime").as_int64() == clk.now() + 30);
        CHECK(a.at("Expiration").as_string() == strftime_utc(a.at("ExpiredTime").as_int64(), "%Y-%m-%dT%H:%M:%SZ"));
        CHECK(a.at("TmpSecretId") == b.at("TmpSecretId"));  // the same credentials twice
        CHECK(a.at("Token") == b.at("Token"));
        first_id = std::string(a.at("TmpSecretId").as_string());
        const cbs::credentials first{first_id, std::string(a.at("TmpSecretKey").as_string()),
                                     std::string(a.at("Token").as_string()), "metadata"};
        CHECK(!(co_await describe(e, first)).ec);

        const auto expires = a.at("ExpiredTime").as_int64();
        clk.advance(19);  // 11 s left: still the same
        auto same = co_await metadata_get(e, paths(role_url));
        CHECK(json::parse(same[0].body).as_object().at("TmpSecretId").as_string() == first_id);
        clk.advance(1);  // 10 s left: new ones
        auto fresh = co_await metadata_get(e, paths(role_url));
        const auto c = json::parse(fresh[0].body).as_object();
        second_id = std::string(c.at("TmpSecretId").as_string());
        CHECK(second_id != first_id);
        CHECK(c.at("ExpiredTime").as_int64() == expires + 20);
        const cbs::credentials second{second_id, std::string(c.at("TmpSecretKey").as_string()),
                                      std::string(c.at("Token").as_string()), "metadata"};
        CHECK(!(co_await describe(e, first)).ec);  // the old ones until their own expiry
        CHECK(!(co_await describe(e, second)).ec);
        clk.advance(10);
        CHECK((co_await describe(e, first)).diag.server_code == "AuthFailure.TokenFailure");
        CHECK(!(co_await describe(e, second)).ec);

        std::vector<std::string> others{std::string(creds_path) + "another-role", "/latest/meta-data/other"};
        auto other = co_await metadata_get(e, std::move(others));
        CHECK(other[0].status == 404);
        CHECK(other[1].status == 404);
        auto post = co_await metadata_get(e, paths(role_url), http::verb::post);
        CHECK(post[0].status == 405);
    });
    std::vector<std::string> served;
    for (const auto& r : log_of(e, "metadata:credentials"))
        if (r.outcome == "ok") served.push_back(r.issued_secret_id);
    CHECK(served == std::vector<std::string>{first_id, first_id, first_id, second_id});
    CHECK(log_of(e, "metadata:role").size() == 1);
    CHECK(log_of(e, "metadata:other").size() == 1);
    std::set<std::string> signers;
    for (const auto& r : log_of(e, "DescribeDisks")) signers.insert(r.secret_id);
    CHECK(signers == std::set<std::string>{first_id, second_id});
    const auto issued = e.issued_credentials();
    REQUIRE(issued.size() == 2);
    CHECK(issued[0].source == "metadata");
    CHECK(issued[0].role_arn == role_arn);
}

TEST_CASE("emulator sts: issued credentials share the role account's rate windows under rate_scope::account") {
    asio::io_context io;
    server_clock clk;
    auto p = sts_params(clk);
    p.rate_limits.scope = emu::rate_scope::account;
    p.rate_limits.overrides = {{"DescribeDisks", 2}};
    p.rate_limits.window = 60s;  // nothing leaves the window during the test
    emu::emulator e(io.get_executor(), p);
    e.start();
    run(io, e, [&]() -> asio::awaitable<void> {
        // The role's account (uin 100000000001) is the permanent key's.
        auto r = co_await call(sts_client_for(e, permanent()), "AssumeRole", assume_body());
        REQUIRE(!r.ec);
        const auto tmp = issued_creds(r.value);
        CHECK(!(co_await describe(e, permanent())).ec);
        CHECK(!(co_await describe(e, tmp)).ec);
        CHECK((co_await describe(e, tmp)).diag.server_code == "RequestLimitExceeded");
        CHECK((co_await describe(e, permanent())).diag.server_code == "RequestLimitExceeded");
        // Another account's role: windows of its own.
        auto o = co_await call(sts_client_for(e, permanent()), "AssumeRole",
                               assume_body("qcs::cam::uin/200000000002:roleName/other-account-role"));
        REQUIRE(!o.ec);
        CHECK(!(co_await describe(e, issued_creds(o.value))).ec);
    });
}

TEST_CASE("emulator sts: a \"*\" fault rule leaves the STS actions alone") {
    asio::io_context io;
    server_clock clk;
    auto p = sts_params(clk);
    p.faults.rules["*"].transient = 1;
    emu::emulator e(io.get_executor(), p);
    e.start();
    run(io, e, [&]() -> asio::awaitable<void> {
        auto r = co_await call(sts_client_for(e, permanent()), "AssumeRole", assume_body());
        CHECK_MESSAGE(!r.ec, r.diag.to_string(r.ec));
        CHECK((co_await describe(e, permanent())).diag.server_code != "");
        // A rule naming the STS action does apply.
        emu::fault_params f;
        f.rules["AssumeRole"].transient = 1;
        e.set_faults(f);
        auto failed = co_await call(sts_client_for(e, permanent()), "AssumeRole", assume_body());
        CHECK(failed.ec);
    });
    auto assume = log_of(e, "AssumeRole");
    REQUIRE(assume.size() == 2);
    CHECK(assume[0].fault.empty());
    CHECK(assume[1].fault == "transient");
    CHECK(assume[1].issued_secret_id.empty());
    CHECK(log_of(e, "DescribeDisks").at(0).fault == "transient");
}

TEST_CASE("emulator sts: parameters are validated, naming the field") {
    asio::io_context io;
    auto refused = [&](auto change, std::string_view field) {
        emu::emulator_params p;
        change(p);
        try {
            emu::emulator e(io.get_executor(), p);
            FAIL("accepted");
        } catch (const std::invalid_argument& ex) {
            CHECK_MESSAGE(std::string_view(ex.what()).find(field) != std::string_view::npos, ex.what());
        }
    };
    refused([](auto& p) { p.roles = {"qcs::cam::uin/12:role/4611686018427397919"}; }, "roles");
    refused([](auto& p) { p.roles = {"fleet-role"}; }, "roles");
    refused([](auto& p) { p.temp_credential_lifetime = 0s; }, "temp_credential_lifetime");
    refused([](auto& p) { p.temp_credential_lifetime = 43201s; }, "temp_credential_lifetime");
    refused([](auto& p) { p.oidc_provider_id = "x"; }, "oidc_token");
    refused([](auto& p) { p.oidc_token = "x"; }, "oidc_provider_id");
    refused([](auto& p) { p.metadata_role = "a role"; }, "metadata_role");
    emu::emulator_params ok;
    ok.roles = {role_arn};
    ok.temp_credential_lifetime = 43200s;
    CHECK_NOTHROW(emu::emulator(io.get_executor(), ok));
    emu::emulator off(io.get_executor(), {});
    CHECK(off.metadata_endpoint().empty());
}
