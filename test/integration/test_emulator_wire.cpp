// The emulator's gateway checks, driven by hand-built HTTP requests over real
// TLS (signed with cbs::tc3_signer or with published vectors), plus the pure
// TC3 verification (auth.hpp) against the published vectors.
#include <cbs/emulator/auth.hpp>
#include <cbs/emulator/emulator.hpp>
#include <cbs/tc3_signer.hpp>

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
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/parse.hpp>

#include <doctest/doctest.h>

#include <openssl/ssl.h>

#include <ctime>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace emu = cbs::emu;
using namespace std::chrono_literals;

namespace {

constexpr const char* test_id = "AKIDWIRETEST0000000000000000000000";
constexpr const char* test_key = "wire-test-secret-key-0123456789ab";

struct raw_reply {
    boost::system::error_code ec;
    unsigned status = 0;
    std::string body, connection, code, request_id;
};

asio::awaitable<raw_reply> raw_exchange(const emu::emulator& e, std::string request) {
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
    std::size_t n = 0;
    std::tie(out.ec, n) = co_await asio::async_write(s, asio::buffer(request), tuple);
    if (out.ec) co_return out;
    beast::flat_buffer buf;
    http::response_parser<http::string_body> p;
    std::tie(out.ec, n) = co_await http::async_read(s, buf, p, tuple);
    raw.close();
    if (out.ec) co_return out;
    out.status = p.get().result_int();
    out.body = p.get().body();
    out.connection = std::string(p.get()[http::field::connection]);
    boost::system::error_code jec;
    auto v = json::parse(out.body, jec);
    if (!jec && v.is_object()) {
        if (auto* r = v.as_object().if_contains("Response"); r && r->is_object()) {
            if (auto* id = r->as_object().if_contains("RequestId")) out.request_id = std::string(id->as_string());
            if (auto* err = r->as_object().if_contains("Error"))
                out.code = std::string(err->as_object().at("Code").as_string());
        }
    }
    co_return out;
}

/// A request signed with tc3_signer; every field can be spoiled.
struct spec {
    std::string method = "POST", target = "/", host, content_type = "application/json; charset=utf-8";
    std::string body = "{}", action = "DescribeDisks", version = "2017-03-12", region = "ap-guangzhou";
    std::int64_t timestamp = std::time(nullptr);
    std::string secret_id = test_id, secret_key = test_key, service = "cbs", token;
    bool sign_action = false;
    std::string sign_body;          ///< non-empty: sign this instead of body
    std::vector<std::string> omit;  ///< header names left out
    std::string authorization;      ///< non-empty: sent instead of the computed one
    std::string content_length;     ///< non-empty: sent instead of the body's size (and no body)
};

/// The Authorization header value tc3_signer computes for `s`.
std::string authorization_of(const spec& s) {
    cbs::tc3_signer signer;
    cbs::tc3_request r;
    r.secret_id = s.secret_id;
    r.secret_key = s.secret_key;
    r.service = s.service;
    r.host = s.host;
    r.content_type = s.content_type;
    r.payload = s.sign_body.empty() ? s.body : s.sign_body;
    r.timestamp = s.timestamp;
    r.method = s.method;
    const auto q = s.target.find('?');
    r.canonical_uri = std::string_view(s.target).substr(0, q);
    if (q != std::string::npos) r.canonical_query = std::string_view(s.target).substr(q + 1);
    cbs::tc3_header extra{"X-TC-Action", s.action};
    if (s.sign_action) r.extra_signed_headers = {&extra, 1};
    return signer.authorization(r);
}

std::string build(const spec& s) {
    const std::string authz = s.authorization.empty() ? authorization_of(s) : s.authorization;
    auto omitted = [&](std::string_view n) { return std::find(s.omit.begin(), s.omit.end(), n) != s.omit.end(); };
    std::string out = s.method + " " + s.target + " HTTP/1.1\r\n";
    auto add = [&](std::string_view n, std::string_view v) {
        if (!omitted(n)) out.append(n).append(": ").append(v).append("\r\n");
    };
    add("Host", s.host);
    add("Content-Type", s.content_type);
    add("X-TC-Action", s.action);
    add("X-TC-Version", s.version);
    add("X-TC-Timestamp", std::to_string(s.timestamp));
    add("X-TC-Region", s.region);
    if (!s.token.empty()) add("X-TC-Token", s.token);
    add("Authorization", authz);
    if (!s.content_length.empty()) return out + "Content-Length: " + s.content_length + "\r\n\r\n";
    out += "Content-Length: " + std::to_string(s.body.size()) + "\r\n\r\n" + s.body;
    return out;
}

emu::emulator_params params() {
    emu::emulator_params p;
    p.fleet.instances = 4;
    p.accounts = {{test_id, test_key, ""}, {"AKIDWIRETEMP", "wire-temp-key", "wire-token-1"}};
    return p;
}

/// Starts an emulator, runs f(emulator) as a coroutine, stops, checks no work is left.
template <class F>
void with_emulator(emu::emulator_params p, F f) {
    asio::io_context io;
    emu::emulator e(io.get_executor(), std::move(p));
    e.start();
    bool done = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            co_await f(e);
            done = true;
        },
        [&](std::exception_ptr ex) {
            e.stop();
            if (ex) std::rethrow_exception(ex);
        });
    io.run_for(30s);
    REQUIRE(done);
    CHECK(io.stopped());
}

bool is_uuid_v4(const std::string& s) {
    static const std::regex re("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
    return std::regex_match(s, re);
}

}  // namespace

TEST_CASE("emulator wire: every check answers HTTP 200 with its code and a fresh UUID RequestId") {
    with_emulator(params(), [](emu::emulator& e) -> asio::awaitable<void> {
        const std::string host = "localhost:" + std::to_string(e.port());
        struct named_case {
            const char* name;
            spec s;
            const char* code;  // "" = success
        };
        std::vector<named_case> cases;
        auto add = [&](const char* name, const char* code, auto spoil) {
            spec s;
            s.host = host;
            spoil(s);
            cases.push_back({name, std::move(s), code});
        };
        add("signed call", "", [](spec&) {});
        add("signed with x-tc-action too", "", [](spec& s) { s.sign_action = true; });
        add("content-type without charset", "", [](spec& s) { s.content_type = "application/json"; });
        add("changed body", "AuthFailure.SignatureFailure", [](spec& s) {
            s.sign_body = R"({"Limit":1})";
            s.body = R"({"Limit":2})";
        });
        add("another key", "AuthFailure.SignatureFailure", [](spec& s) { s.secret_key = "not-the-key"; });
        add("unknown SecretId", "AuthFailure.SecretIdNotFound", [](spec& s) { s.secret_id = "AKIDNOBODY"; });
        add("stale timestamp", "AuthFailure.SignatureExpire", [](spec& s) { s.timestamp -= 301; });
        add("future timestamp", "AuthFailure.SignatureExpire", [](spec& s) { s.timestamp += 301; });
        add("another service in the scope", "AuthFailure.InvalidAuthorization", [](spec& s) { s.service = "cvm"; });
        add("malformed Authorization", "AuthFailure.InvalidAuthorization",
            [](spec& s) { s.authorization = "TC3-HMAC-SHA256 Credential=x"; });
        add("other algorithm", "AuthFailure.InvalidAuthorization", [](spec& s) {
            s.authorization = "HMAC-SHA256 Credential=" + s.secret_id +
                              "/2024-01-01/cbs/tc3_request, "
                              "SignedHeaders=content-type;host, Signature=" +
                              std::string(64, 'a');
        });
        add("host not signed", "AuthFailure.InvalidAuthorization", [](spec& s) {
            s.authorization = "TC3-HMAC-SHA256 Credential=" + s.secret_id + "/" + cbs::detail::utc_date(s.timestamp) +
                              "/cbs/tc3_request, SignedHeaders=content-type, Signature=" + std::string(64, 'a');
        });
        add("no Authorization", "AuthFailure.InvalidAuthorization", [](spec& s) { s.omit = {"Authorization"}; });
        add("scope date is not the timestamp's UTC date", "AuthFailure.SignatureFailure", [](spec& s) {
            std::string a = authorization_of(s);
            const std::string date = cbs::detail::utc_date(s.timestamp);
            a.replace(a.find(date), date.size(), cbs::detail::utc_date(s.timestamp - 86400));
            s.authorization = a;
        });
        add("missing X-TC-Action", "MissingParameter", [](spec& s) { s.omit = {"X-TC-Action"}; });
        add("missing X-TC-Version", "MissingParameter", [](spec& s) { s.omit = {"X-TC-Version"}; });
        add("missing X-TC-Timestamp", "MissingParameter", [](spec& s) { s.omit = {"X-TC-Timestamp"}; });
        add("missing X-TC-Region", "MissingParameter", [](spec& s) { s.omit = {"X-TC-Region"}; });
        add("bad version", "NoSuchVersion", [](spec& s) { s.version = "2017-03-13"; });
        add("unknown action", "InvalidAction", [](spec& s) { s.action = "DescribeEverything"; });
        add("unsupported region", "UnsupportedRegion", [](spec& s) { s.region = "xx-nowhere-1"; });
        add("bad JSON", "InvalidParameter", [](spec& s) { s.body = R"({"Limit":)"; });
        add("JSON not an object", "InvalidParameter", [](spec& s) { s.body = "[1,2]"; });
        add("unknown parameter", "UnknownParameter", [](spec& s) { s.body = R"({"Colour":"red"})"; });
        add("form content type on POST", "InvalidParameter",
            [](spec& s) { s.content_type = "application/x-www-form-urlencoded"; });
        add("PUT", "UnsupportedProtocol", [](spec& s) { s.method = "PUT"; });
        add("DELETE", "UnsupportedProtocol", [](spec& s) { s.method = "DELETE"; });
        add("token sent with a permanent key", "AuthFailure.TokenFailure", [](spec& s) { s.token = "t"; });
        add("temporary key without token", "AuthFailure.TokenFailure", [](spec& s) {
            s.secret_id = "AKIDWIRETEMP";
            s.secret_key = "wire-temp-key";
        });
        add("temporary key, wrong token", "AuthFailure.TokenFailure", [](spec& s) {
            s.secret_id = "AKIDWIRETEMP";
            s.secret_key = "wire-temp-key";
            s.token = "wire-token-2";
        });
        add("temporary key, right token", "", [](spec& s) {
            s.secret_id = "AKIDWIRETEMP";
            s.secret_key = "wire-temp-key";
            s.token = "wire-token-1";
        });
        add("GET with a signed query", "", [](spec& s) {
            s.method = "GET";
            s.action = "DescribeSnapshotGroups";
            s.content_type = "application/x-www-form-urlencoded";
            s.body = "";
            s.target = "/?Filters.0.Name=snapshot-group-state&Filters.0.Values.0=NORMAL&Limit=20&Offset=0";
        });
        add("GET with a query not signed as sent", "AuthFailure.SignatureFailure", [](spec& s) {
            s.method = "GET";
            s.content_type = "application/x-www-form-urlencoded";
            s.body = "";
            s.target = "/?Limit=20";
            spec signed_for = s;
            signed_for.target = "/?Limit=10";
            s.authorization = authorization_of(signed_for);
        });

        std::set<std::string> ids;
        for (const auto& c : cases) {
            CAPTURE(c.name);
            auto r = co_await raw_exchange(e, build(c.s));
            REQUIRE_FALSE(r.ec);
            CHECK(r.status == 200);
            CHECK(r.code == c.code);
            CHECK(is_uuid_v4(r.request_id));
            CHECK(ids.insert(r.request_id).second);
        }
        // The log saw every request, with the SecretId of the Credential.
        auto log = e.request_log();
        CHECK(log.size() == cases.size());
        CHECK(log.front().secret_id == test_id);
        CHECK(log.front().outcome == "ok");
    });
}

TEST_CASE("emulator wire: an oversized body is refused before it is read") {
    auto p = params();
    p.max_body = 1024;
    with_emulator(p, [](emu::emulator& e) -> asio::awaitable<void> {
        spec s;
        s.host = "localhost:" + std::to_string(e.port());
        s.content_length = std::to_string(10u << 20);  // announced, never sent
        auto r = co_await raw_exchange(e, build(s));
        REQUIRE_FALSE(r.ec);
        CHECK(r.code == "RequestSizeLimitExceeded");
        CHECK(r.connection == "close");
        // Exactly at the limit is fine.
        s.content_length.clear();
        s.body = R"({"Limit":1})" + std::string(1024 - 11, ' ');
        r = co_await raw_exchange(e, build(s));
        REQUIRE_FALSE(r.ec);
        CHECK(r.code == "");
    });
}

TEST_CASE("emulator wire: the default body limit is 10 MiB") {
    with_emulator(params(), [](emu::emulator& e) -> asio::awaitable<void> {
        spec s;
        s.host = "localhost:" + std::to_string(e.port());
        s.content_length = std::to_string((10u << 20) + 1);
        auto r = co_await raw_exchange(e, build(s));
        CHECK(r.code == "RequestSizeLimitExceeded");
    });
}

TEST_CASE("emulator wire: the official Python SDK's CBS requests verify (the signer's SDK vectors)") {
    auto p = params();
    p.accounts = {{"AKIDEXAMPLE", "SECRETKEYEXAMPLE", ""}};
    p.unix_time = [] { return std::int64_t{1700000000 + 42}; };
    with_emulator(p, [](emu::emulator& e) -> asio::awaitable<void> {
        const std::string body =
            R"({"DiskIds": ["disk-lt8ajfvk", "disk-1ly0wu8c"], "SnapshotGroupName": "testSnapshotGroup"})";
        std::string post =
            "POST / HTTP/1.1\r\nHost: cbs.tencentcloudapi.com\r\nContent-Type: application/json\r\n"
            "X-TC-Action: CreateSnapshotGroup\r\nX-TC-Timestamp: 1700000000\r\nX-TC-Version: 2017-03-12\r\n"
            "X-TC-Region: ap-guangzhou\r\nAuthorization: TC3-HMAC-SHA256 Credential=AKIDEXAMPLE/2023-11-14/cbs/"
            "tc3_request, SignedHeaders=content-type;host, "
            "Signature=95124adb5df69ee3d90ca2cd8cbde3321e2fdff390cac2e152fd73b918c029b0\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\n\r\n" + body;
        auto r = co_await raw_exchange(e, post);
        REQUIRE_FALSE(r.ec);
        CHECK(r.code == "InvalidDiskId.NotFound");  // past authentication: the disks don't exist here

        std::string get =
            "GET /?Filters.0.Name=snapshot-group-state&Filters.0.Values.0=NORMAL&Limit=20&Offset=0 HTTP/1.1\r\n"
            "Host: cbs.tencentcloudapi.com\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            "X-TC-Action: DescribeSnapshotGroups\r\nX-TC-Timestamp: 1700000000\r\nX-TC-Version: 2017-03-12\r\n"
            "X-TC-Region: ap-guangzhou\r\nAuthorization: TC3-HMAC-SHA256 Credential=AKIDEXAMPLE/2023-11-14/cbs/"
            "tc3_request, SignedHeaders=content-type;host, "
            "Signature=8c9e1153eed6dea7392447aada26e41a9317c7491df64e36170a57070dec4528\r\n\r\n";
        r = co_await raw_exchange(e, get);
        REQUIRE_FALSE(r.ec);
        CHECK(r.code == "");
        CHECK(r.body.find("\"TotalCount\":0") != std::string::npos);
    });

    // The intl-host variant carries X-TC-Token: accepted for the temporary key,
    // refused when the key is registered with another token.
    for (const char* token : {"TOKENEXAMPLE", "OTHERTOKEN"}) {
        auto q = params();
        q.accounts = {{"AKIDEXAMPLE", "SECRETKEYEXAMPLE", token}};
        q.unix_time = [] { return std::int64_t{1700000000}; };
        with_emulator(q, [token](emu::emulator& e) -> asio::awaitable<void> {
            const std::string body =
                R"({"DiskIds": ["disk-lt8ajfvk", "disk-1ly0wu8c"], "SnapshotGroupName": "testSnapshotGroup"})";
            std::string post =
                "POST / HTTP/1.1\r\nHost: cbs.intl.tencentcloudapi.com\r\nContent-Type: application/json\r\n"
                "X-TC-Action: CreateSnapshotGroup\r\nX-TC-Timestamp: 1700000000\r\nX-TC-Version: 2017-03-12\r\n"
                "X-TC-Region: ap-guangzhou\r\nX-TC-Token: TOKENEXAMPLE\r\nAuthorization: TC3-HMAC-SHA256 "
                "Credential=AKIDEXAMPLE/2023-11-14/cbs/tc3_request, SignedHeaders=content-type;host, "
                "Signature=f700a27b6cb7631927b3869debc19d05f5ea84b407b59648ae8fdaec25875082\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body;
            auto r = co_await raw_exchange(e, post);
            REQUIRE_FALSE(r.ec);
            CHECK(r.code ==
                  (std::string(token) == "TOKENEXAMPLE" ? "InvalidDiskId.NotFound" : "AuthFailure.TokenFailure"));
        });
    }
}

TEST_CASE("emulator wire: the published CVM vectors are CVM-scoped, so the CBS endpoint refuses them") {
    auto p = params();
    p.accounts = {{"AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", ""}};
    p.unix_time = [] { return std::int64_t{1551113065}; };
    with_emulator(p, [](emu::emulator& e) -> asio::awaitable<void> {
        const std::string body =
            R"({"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]})";
        std::string post =
            "POST / HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\nContent-Type: application/json; charset=utf-8\r\n"
            "X-TC-Action: DescribeInstances\r\nX-TC-Timestamp: 1551113065\r\nX-TC-Version: 2017-03-12\r\n"
            "X-TC-Region: ap-guangzhou\r\nAuthorization: TC3-HMAC-SHA256 "
            "Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, "
            "SignedHeaders=content-type;host, "
            "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\n\r\n" + body;
        auto r = co_await raw_exchange(e, post);
        REQUIRE_FALSE(r.ec);
        CHECK(r.code == "AuthFailure.InvalidAuthorization");
    });
}

TEST_CASE("auth: verify_tc3 accepts every published vector for its own service, and nothing else") {
    std::ifstream in(std::string(CBS_TEST_DATA_DIR) + "/tc3_vectors.json");
    std::stringstream ss;
    ss << in.rdbuf();
    const auto vectors = json::parse(ss.str()).as_array();
    REQUIRE(vectors.size() == 4);
    cbs::tc3_signer signer;
    for (const auto& jv : vectors) {
        const auto& v = jv.as_object();
        CAPTURE(v.at("id").as_string());
        const std::string host(v.at("host").as_string()), ct(v.at("content_type").as_string()),
            action(v.at("action").as_string()), payload(v.at("payload").as_string()),
            authz(v.at("authorization").as_string());
        const std::int64_t ts = v.at("timestamp").as_int64();
        const std::string ts_text = std::to_string(ts);
        const emu::http_header headers[] = {
            {"Host", host}, {"Content-Type", ct}, {"X-TC-Action", action}, {"Authorization", authz}};
        const emu::account acct{std::string(v.at("secret_id").as_string()), std::string(v.at("secret_key").as_string()),
                                ""};
        emu::auth_input ai;
        ai.method = "POST";
        ai.target = "/";
        ai.headers = headers;
        ai.body = payload;
        ai.timestamp = ts;
        ai.timestamp_text = ts_text;
        ai.now = ts + 300;
        ai.service = "cvm";
        auto ok = emu::verify_tc3(ai, {&acct, 1}, signer);
        CHECK_FALSE(ok.error.has_value());
        CHECK(ok.secret_id == acct.secret_id);

        ai.now = ts + 301;
        CHECK(emu::verify_tc3(ai, {&acct, 1}, signer).error->code == "AuthFailure.SignatureExpire");
        ai.now = ts;
        ai.service = "cbs";
        CHECK(emu::verify_tc3(ai, {&acct, 1}, signer).error->code == "AuthFailure.InvalidAuthorization");
        ai.service = "cvm";
        const std::string changed = payload + " ";
        ai.body = changed;
        CHECK(emu::verify_tc3(ai, {&acct, 1}, signer).error->code == "AuthFailure.SignatureFailure");
    }
}

TEST_CASE("auth: parse_authorization rejects malformed headers") {
    std::string why;
    const std::string sig(64, 'a');
    CHECK(
        emu::parse_authorization("TC3-HMAC-SHA256 Credential=ID/2024-01-02/cbs/tc3_request, "
                                 "SignedHeaders=content-type;host;x-tc-action, Signature=" +
                                     sig,
                                 why));
    CHECK(emu::parse_authorization("TC3-HMAC-SHA256 Signature=" + sig +
                                       ",SignedHeaders=content-type;host,Credential=ID/2024-01-02/cbs/tc3_request",
                                   why));
    for (const std::string& bad : std::vector<std::string>{
             "",
             "TC3-HMAC-SHA256",
             "TC3-HMAC-SHA1 Credential=ID/2024-01-02/cbs/tc3_request, SignedHeaders=content-type;host, Signature=" +
                 sig,
             "TC3-HMAC-SHA256 Credential=ID/2024-01-02/cbs, SignedHeaders=content-type;host, Signature=" + sig,
             "TC3-HMAC-SHA256 Credential=ID/20240102/cbs/tc3_request, SignedHeaders=content-type;host, Signature=" +
                 sig,
             "TC3-HMAC-SHA256 Credential=ID/2024-01-02/cbs/tc3_other, SignedHeaders=content-type;host, Signature=" +
                 sig,
             "TC3-HMAC-SHA256 Credential=/2024-01-02/cbs/tc3_request, SignedHeaders=content-type;host, Signature=" +
                 sig,
             "TC3-HMAC-SHA256 Credential=ID/2024-01-02/cbs/tc3_request, SignedHeaders=host;content-type, Signature=" +
                 sig,
             "TC3-HMAC-SHA256 Credential=ID/2024-01-02/cbs/tc3_request, SignedHeaders=Content-Type;Host, Signature=" +
                 sig,
             "TC3-HMAC-SHA256 Credential=ID/2024-01-02/cbs/tc3_request, SignedHeaders=content-type, Signature=" + sig,
             "TC3-HMAC-SHA256 Credential=ID/2024-01-02/cbs/tc3_request, SignedHeaders=content-type;host, Signature=XYZ",
             "TC3-HMAC-SHA256 Credential=ID/2024-01-02/cbs/tc3_request, SignedHeaders=content-type;host",
             "TC3-HMAC-SHA256 Credential=ID/2024-01-02/cbs/tc3_request, SignedHeaders=content-type;host, Signature=" +
                 sig + ", Signature=" + sig,
             "TC3-HMAC-SHA256 Credential=ID/2024-01-02/cbs/tc3_request, SignedHeaders=content-type;host, Signature=" +
                 sig + ",",
         }) {
        CAPTURE(bad);
        why.clear();
        CHECK_FALSE(emu::parse_authorization(bad, why));
        CHECK_FALSE(why.empty());
        CHECK(why.find(sig) == std::string::npos);
    }
}
