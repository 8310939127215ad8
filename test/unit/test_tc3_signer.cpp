// Tests of the TC3-HMAC-SHA256 signer against published and SDK-computed vectors.
#include <cbs/tc3_signer.hpp>

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

boost::json::array load_vectors() {
    const std::string path = std::string(CBS_TEST_DATA_DIR) + "/tc3_vectors.json";
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot open " << path);
    std::stringstream ss;
    ss << in.rdbuf();
    return boost::json::parse(ss.str()).as_array();
}

std::string str(const boost::json::object& o, const char* key) {
    return std::string(o.at(key).as_string());
}

// Common inputs of the CBS vectors computed with the official Python SDK
// (AKIDEXAMPLE/SECRETKEYEXAMPLE).
constexpr std::string_view sdk_body =
    R"({"DiskIds": ["disk-lt8ajfvk", "disk-1ly0wu8c"], "SnapshotGroupName": "testSnapshotGroup"})";

cbs::tc3_request sdk_request() {
    cbs::tc3_request r;
    r.secret_id = "AKIDEXAMPLE";
    r.secret_key = "SECRETKEYEXAMPLE";
    r.service = "cbs";
    r.host = "cbs.tencentcloudapi.com";
    r.content_type = "application/json";
    r.payload = sdk_body;
    r.timestamp = 1700000000;
    return r;
}

std::string sdk_authorization(std::string_view sig) {
    return "TC3-HMAC-SHA256 Credential=AKIDEXAMPLE/2023-11-14/cbs/tc3_request, "
           "SignedHeaders=content-type;host, Signature=" +
           std::string(sig);
}

}  // namespace

TEST_CASE("tc3: published vectors reproduce byte for byte, with every intermediate") {
    const auto vectors = load_vectors();
    REQUIRE(vectors.size() == 4);
    cbs::tc3_signer signer;
    for (const auto& v : vectors) {
        const auto& o = v.as_object();
        CAPTURE(str(o, "id"));
        const std::string id = str(o, "secret_id"), key = str(o, "secret_key");
        const std::string service = str(o, "service"), host = str(o, "host");
        const std::string ct = str(o, "content_type"), payload = str(o, "payload");
        const std::string method = str(o, "http_method"), uri = str(o, "canonical_uri");
        const std::string query = str(o, "canonical_query"), action = str(o, "action");
        const std::string signed_headers = str(o, "signed_headers");

        std::vector<cbs::tc3_header> extra;
        if (signed_headers.find("x-tc-action") != std::string::npos) extra.push_back({"X-TC-Action", action});

        cbs::tc3_request r;
        r.secret_id = id;
        r.secret_key = key;
        r.service = service;
        r.host = host;
        r.content_type = ct;
        r.payload = payload;
        r.timestamp = o.at("timestamp").to_number<std::int64_t>();
        r.method = method;
        r.canonical_uri = uri;
        r.canonical_query = query;
        r.extra_signed_headers = extra;

        cbs::tc3_trace t;
        const auto auth = signer.authorization(r, &t);
        CHECK(auth == str(o, "authorization"));
        CHECK(t.hashed_payload == str(o, "hashed_payload"));
        CHECK(t.canonical_request == str(o, "canonical_request"));
        CHECK(t.hashed_canonical_request == str(o, "hashed_canonical_request"));
        CHECK(t.date == str(o, "date"));
        CHECK(t.credential_scope == str(o, "credential_scope"));
        CHECK(t.string_to_sign == str(o, "string_to_sign"));
        CHECK(t.signed_headers == signed_headers);
        CHECK(t.signature == str(o, "signature"));
        if (o.contains("secret_date_hex")) {
            CHECK(t.secret_date_hex == str(o, "secret_date_hex"));
            CHECK(t.secret_service_hex == str(o, "secret_service_hex"));
            CHECK(t.secret_signing_hex == str(o, "secret_signing_hex"));
        }
        CHECK(cbs::detail::sha256_hex(payload) == str(o, "hashed_payload"));

        // Same result without a trace (cached-key path) and via signature().
        CHECK(signer.authorization(r) == str(o, "authorization"));
        CHECK(signer.signature(r) == str(o, "signature"));
        cbs::tc3_signer fresh;
        CHECK(fresh.signature(r) == str(o, "signature"));
    }
}

TEST_CASE("tc3: SDK-computed CBS vectors, content type with and without charset") {
    cbs::tc3_signer signer;
    cbs::tc3_request r;
    r.secret_id = "AKIDEXAMPLE";
    r.secret_key = "SECRETEXAMPLE";
    r.service = "cbs";
    r.host = "cbs.tencentcloudapi.com";
    r.payload = R"({"DiskIds":["disk-11112222"]})";
    r.timestamp = 1700000000;

    r.content_type = "application/json";
    cbs::tc3_trace t;
    CHECK(signer.signature(r, &t) == "70564bd131e2a31f9042b4b23c8cf24ac08f59f72abf67a8596f287e6130ee78");
    CHECK(t.signed_headers == "content-type;host");
    CHECK(t.date == "2023-11-14");

    r.content_type = "application/json; charset=utf-8";
    CHECK(signer.signature(r) == "92581aaec414fd01618f34367b7c495303ba35daf900cf36534b281f777e6001");
    // The default content type is the charset form.
    cbs::tc3_request d = r;
    d.content_type = cbs::tc3_request{}.content_type;
    CHECK(signer.signature(d) == "92581aaec414fd01618f34367b7c495303ba35daf900cf36534b281f777e6001");
}

TEST_CASE("tc3: CBS request vectors computed with the official Python SDK") {
    cbs::tc3_signer signer;

    SUBCASE("POST CreateSnapshotGroup") {
        auto r = sdk_request();
        cbs::tc3_trace t;
        const auto auth = signer.authorization(r, &t);
        CHECK(t.hashed_payload == "a5884a552634a93db6c7585ad59db8e5122968eddcf2c731dea45fa7791ad9a3");
        CHECK(t.hashed_canonical_request == "0c37975e828cc937dea0d79087e17bbfd69b35713ec0da9dc18a43c29f5845ef");
        CHECK(auth == sdk_authorization("95124adb5df69ee3d90ca2cd8cbde3321e2fdff390cac2e152fd73b918c029b0"));
    }
    SUBCASE("intl host (token is not signed)") {
        auto r = sdk_request();
        r.host = "cbs.intl.tencentcloudapi.com";
        cbs::tc3_trace t;
        const auto auth = signer.authorization(r, &t);
        CHECK(t.hashed_canonical_request == "4a2349103fd3954711394ce8e1dcf4517c74c73171d77c0e3a41d1b7aa7913f7");
        CHECK(auth == sdk_authorization("f700a27b6cb7631927b3869debc19d05f5ea84b407b59648ae8fdaec25875082"));
    }
    SUBCASE("GET DescribeSnapshotGroups with a canonical query") {
        auto r = sdk_request();
        r.method = "GET";
        r.content_type = "application/x-www-form-urlencoded";
        r.payload = "";
        r.canonical_query = "Filters.0.Name=snapshot-group-state&Filters.0.Values.0=NORMAL&Limit=20&Offset=0";
        cbs::tc3_trace t;
        const auto auth = signer.authorization(r, &t);
        CHECK(t.hashed_payload == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        CHECK(t.hashed_canonical_request == "a92a659afdb23f779592e5ed598011feb4e2602cb4b9736cd12146e29ec7a4fc");
        CHECK(auth == sdk_authorization("8c9e1153eed6dea7392447aada26e41a9317c7491df64e36170a57070dec4528"));
    }
}

TEST_CASE("tc3: derived-key cache follows date, service and key changes") {
    cbs::tc3_signer cached;
    auto r = sdk_request();
    const auto day1 = cached.signature(r);

    // Same key, next UTC day: the cache must be refreshed.
    auto r2 = r;
    r2.timestamp = r.timestamp + 86400;
    cbs::tc3_trace t2;
    const auto day2 = cached.signature(r2);
    CHECK(day2 != day1);
    cbs::tc3_signer fresh;
    CHECK(fresh.signature(r2, &t2) == day2);
    CHECK(t2.date == "2023-11-15");

    // Back to day 1, then a different key of the same length, then another service.
    CHECK(cached.signature(r) == day1);
    auto r3 = r;
    r3.secret_key = "SECRETKEYEXAMPLF";
    CHECK(cached.signature(r3) == cbs::tc3_signer{}.signature(r3));
    CHECK(cached.signature(r3) != day1);
    auto r4 = r;
    r4.service = "cvm";
    CHECK(cached.signature(r4) == cbs::tc3_signer{}.signature(r4));
    CHECK(cached.signature(r4) != day1);
    CHECK(cached.signature(r) == day1);

    // Same UTC day, different timestamp: cache hit, still correct.
    auto r5 = r;
    r5.timestamp = r.timestamp + 60;
    CHECK(cached.signature(r5) == cbs::tc3_signer{}.signature(r5));
}

TEST_CASE("tc3: any payload byte changes the signature") {
    cbs::tc3_signer signer;
    auto r = sdk_request();
    const auto base = signer.signature(r);
    std::string body(sdk_body);
    for (std::size_t i = 0; i < body.size(); i += 7) {
        std::string changed = body;
        changed[i] = static_cast<char>(changed[i] ^ 0x01);
        r.payload = changed;
        CHECK(signer.signature(r) != base);
    }
    r.payload = sdk_body;
    CHECK(signer.signature(r) == base);
}

TEST_CASE("tc3: extra headers are lower-cased, trimmed, sorted; duplicates rejected") {
    cbs::tc3_signer signer;
    auto r = sdk_request();
    const cbs::tc3_header extra[] = {{"X-TC-Version", " 2017-03-12 "}, {"X-TC-Action", "CreateSnapshotGroup"}};
    r.extra_signed_headers = extra;
    cbs::tc3_trace t;
    const auto auth = signer.authorization(r, &t);
    CHECK(t.signed_headers == "content-type;host;x-tc-action;x-tc-version");
    CHECK(t.canonical_request.find("\nhost:cbs.tencentcloudapi.com\n"
                                   "x-tc-action:createsnapshotgroup\n"
                                   "x-tc-version:2017-03-12\n\n") != std::string::npos);
    CHECK(auth.find("SignedHeaders=content-type;host;x-tc-action;x-tc-version, ") != std::string::npos);

    const cbs::tc3_header dup[] = {{"HOST", "x"}};
    r.extra_signed_headers = dup;
    CHECK_THROWS_AS(signer.signature(r), std::invalid_argument);
    const cbs::tc3_header empty[] = {{" ", "x"}};
    r.extra_signed_headers = empty;
    CHECK_THROWS_AS(signer.signature(r), std::invalid_argument);
    // The signer still works after a rejected request.
    r.extra_signed_headers = {};
    CHECK(signer.authorization(r) ==
          sdk_authorization("95124adb5df69ee3d90ca2cd8cbde3321e2fdff390cac2e152fd73b918c029b0"));
}

TEST_CASE("tc3: move and moved-from signers") {
    cbs::tc3_signer a;
    auto r = sdk_request();
    const auto sig = a.signature(r);
    cbs::tc3_signer b(std::move(a));
    CHECK(b.signature(r) == sig);
    cbs::tc3_signer c;
    c = std::move(b);
    CHECK(c.signature(r) == sig);
    CHECK(b.signature(r) == sig);  // NOLINT(bugprone-use-after-move): documented as usable
}

TEST_CASE("tc3: utc_date") {
    using cbs::detail::utc_date;
    CHECK(utc_date(0) == "1970-01-01");
    CHECK(utc_date(86399) == "1970-01-01");
    CHECK(utc_date(86400) == "1970-01-02");
    CHECK(utc_date(-1) == "1969-12-31");
    CHECK(utc_date(1551113065) == "2019-02-25");
    CHECK(utc_date(1700000000) == "2023-11-14");
    CHECK(utc_date(1709164800) == "2024-02-29");          // leap day 00:00:00
    CHECK(utc_date(1709164800 + 86399) == "2024-02-29");  // leap day 23:59:59
    CHECK(utc_date(1709164800 + 86400) == "2024-03-01");
    CHECK(utc_date(951782400) == "2000-02-29");   // 400-year leap
    CHECK(utc_date(4107542400) == "2100-03-01");  // 2100 is not a leap year
    CHECK(utc_date(4107542400 - 1) == "2100-02-28");
    CHECK(utc_date(253402300799) == "9999-12-31");
}

TEST_CASE("tc3: sha256_hex and constant_time_equal") {
    using namespace cbs::detail;
    CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(constant_time_equal("", ""));
    CHECK(constant_time_equal("abc", "abc"));
    CHECK_FALSE(constant_time_equal("abc", "abd"));
    CHECK_FALSE(constant_time_equal("abc", "abcd"));
}
