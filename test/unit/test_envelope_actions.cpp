// Envelope parsing, endpoint parsing, request validation: pure functions.
#include <cbs/actions.hpp>
#include <cbs/detail/envelope.hpp>
#include <cbs/endpoint.hpp>
#include <cbs/error.hpp>

#include <doctest/doctest.h>

using cbs::client_errc;

TEST_CASE("envelope: success keeps the Response object and its RequestId") {
    boost::json::object rsp;
    cbs::diagnostics diag;
    auto ec = cbs::detail::parse_envelope(
        R"({"Response":{"SnapshotGroupId":"csnap-oavcw09g","RequestId":"c9f12982-0c74-4d7e-aaeb-dd965ff2c9dc"}})", rsp,
        diag);
    CHECK_FALSE(ec);
    CHECK(rsp.at("SnapshotGroupId").as_string() == "csnap-oavcw09g");
    CHECK(diag.request_id == "c9f12982-0c74-4d7e-aaeb-dd965ff2c9dc");
    CHECK(diag.request_ids.size() == 1);
}

TEST_CASE("envelope: an API error maps to its code, keeps Code, Message, RequestId") {
    boost::json::object rsp;
    cbs::diagnostics diag;
    auto ec = cbs::detail::parse_envelope(
        R"({"Response":{"Error":{"Code":"InvalidDisk.SnapshotCreating","Message":"busy"},"RequestId":"r-1"}})", rsp,
        diag);
    CHECK(ec == cbs::api_errc::invalid_disk_snapshot_creating);
    CHECK(ec.category() == cbs::api_category());
    CHECK(diag.server_code == "InvalidDisk.SnapshotCreating");
    CHECK(diag.server_message == "busy");
    CHECK(diag.request_id == "r-1");
    CHECK(diag.to_string(ec) == "InvalidDisk.SnapshotCreating: busy (RequestId r-1)");
}

TEST_CASE("envelope: an unknown code is 'unrecognized' with the text kept") {
    boost::json::object rsp;
    cbs::diagnostics diag;
    auto ec = cbs::detail::parse_envelope(
        R"({"Response":{"Error":{"Code":"Brand.NewCode","Message":"m"},"RequestId":"r"}})", rsp, diag);
    CHECK(ec == cbs::api_errc::unrecognized);
    CHECK(diag.server_code == "Brand.NewCode");
}

TEST_CASE("envelope: what is not an API 3.0 envelope is bad_response") {
    const char* bodies[] = {
        "<html><body>502 Bad Gateway</body></html>",
        "",
        "[]",
        R"({"Response":1})",
        R"({"NotResponse":{}})",
        R"({"Response":{"Error":"x","RequestId":"r"}})",
        R"({"Response":{"Error":{"Message":"no code"},"RequestId":"r"}})",
        R"({"Response":{"Data":1}})",  // success without RequestId
        R"({"Response":{"RequestId":"r"}} trailing)",
    };
    for (auto body : bodies) {
        CAPTURE(body);
        boost::json::object rsp;
        cbs::diagnostics diag;
        CHECK(cbs::detail::parse_envelope(body, rsp, diag) == client_errc::bad_response);
        CHECK_FALSE(diag.client_message.empty());
    }
}

TEST_CASE("api codes round-trip between text and error_code") {
    CHECK(cbs::api_error_from_string("RequestLimitExceeded") == cbs::api_errc::request_limit_exceeded);
    CHECK(cbs::to_string(cbs::api_errc::resource_in_use_disk_migrating) == "ResourceInUse.DiskMigrating");
    CHECK(cbs::make_error_code(cbs::api_errc::auth_signature_failure).message() == "AuthFailure.SignatureFailure");
}

TEST_CASE("endpoint parsing") {
    cbs::endpoint ep;
    std::string why;
    REQUIRE(cbs::parse_endpoint("https://cbs.tencentcloudapi.com", ep, why));
    CHECK(ep.host == "cbs.tencentcloudapi.com");
    CHECK(ep.port == 443);
    CHECK(ep.host_header() == "cbs.tencentcloudapi.com");
    REQUIRE(cbs::parse_endpoint("https://localhost:8443/", ep, why));
    CHECK(ep.port == 8443);
    CHECK(ep.host_header() == "localhost:8443");
    REQUIRE(cbs::parse_endpoint("https://[::1]:9000", ep, why));
    CHECK(ep.host == "::1");
    CHECK(ep.host_header() == "[::1]:9000");
    REQUIRE(cbs::parse_endpoint("http://127.0.0.1", ep, why));
    CHECK(ep.port == 80);

    for (auto bad : {"cbs.tencentcloudapi.com", "ftp://x", "https://", "https://h:0", "https://h:99999",
                     "https://h:12x", "https://h/path", "https://u@h", "https://[::1", "https://h:"}) {
        CAPTURE(bad);
        why.clear();
        CHECK_FALSE(cbs::parse_endpoint(bad, ep, why));
        CHECK_FALSE(why.empty());
    }
}

TEST_CASE("CreateSnapshotGroup: validation names what is wrong, before anything is sent") {
    cbs::diagnostics diag;
    cbs::create_snapshot_group_request req;
    CHECK(cbs::validate(req, diag) == client_errc::invalid_request);
    CHECK(diag.client_message.find("empty") != std::string::npos);

    req.disk_ids = {"disk-11112222", "disk-11112222"};
    CHECK(cbs::validate(req, diag) == client_errc::invalid_request);
    CHECK(diag.client_message.find("twice") != std::string::npos);

    for (auto bad : {"disk-1111222", "disk-111122223", "DISK-11112222", "disk-1111222A", "ins-11112222", ""}) {
        CAPTURE(bad);
        req.disk_ids = {"disk-aaaabbbb", bad};
        CHECK(cbs::validate(req, diag) == client_errc::invalid_request);
        CHECK(diag.client_message.find("malformed") != std::string::npos);
    }
    req.disk_ids = {"disk-aaaabbbb", "disk-0000cccc"};
    req.tags = {{"", "v"}};
    CHECK(cbs::validate(req, diag) == client_errc::invalid_request);
    req.tags = {{"env", "prod"}};
    req.snapshot_group_name = "fleet-ins-12345678-run1";
    CHECK_FALSE(cbs::validate(req, diag));
    auto body = cbs::to_json(req);
    CHECK(body.at("DiskIds").as_array().size() == 2);
    CHECK(body.at("SnapshotGroupName").as_string() == "fleet-ins-12345678-run1");
    CHECK(body.at("Tags").as_array()[0].as_object().at("Key").as_string() == "env");
}

TEST_CASE("CreateSnapshotGroup: response without SnapshotGroupId is bad_response") {
    cbs::diagnostics diag;
    cbs::create_snapshot_group_response out;
    boost::json::object rsp{{"RequestId", "r"}};
    CHECK(cbs::from_json(rsp, out, diag) == client_errc::bad_response);
    rsp["SnapshotGroupId"] = "csnap-12345678";
    CHECK_FALSE(cbs::from_json(rsp, out, diag));
    CHECK(out.snapshot_group_id == "csnap-12345678");
    CHECK(out.request_id == "r");
}
