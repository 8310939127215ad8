// Writes the signed-request seeds of corpus/emulator_auth and
// corpus/emulator_gateway (correct TC3 signatures for the accounts of
// fuzz_common.hpp at the server time 1717200000). Not a fuzz target:
//
//   cmake --build build-fuzz --target make_seed_requests
//   build-fuzz/make_seed_requests test/fuzz/corpus
#include "fuzz_common.hpp"

#include <cbs/tc3_signer.hpp>

#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

cbs::tc3_signer signer;
const auto& perm = cbs_fuzz::fuzz_accounts()[0];
const auto& temp = cbs_fuzz::fuzz_accounts()[1];

std::string request(const cbs::emu::account& a, const std::string& method, const std::string& target,
                    const std::string& action, const std::string& body, std::int64_t ts = 1717200000,
                    bool sign_action = false, const std::string& region = "ap-guangzhou") {
    cbs::tc3_request r;
    r.secret_id = a.secret_id;
    r.secret_key = a.secret_key;
    r.host = "cbs.tencentcloudapi.com";
    r.content_type = method == "GET" ? "application/x-www-form-urlencoded" : "application/json; charset=utf-8";
    r.payload = body;
    r.timestamp = ts;
    r.method = method;
    const std::string_view tv(target);
    const auto q = tv.find('?');
    r.canonical_uri = tv.substr(0, q);
    r.canonical_query = q == std::string_view::npos ? std::string_view() : tv.substr(q + 1);
    std::vector<cbs::tc3_header> extra;
    if (sign_action) extra.push_back({"X-TC-Action", action});
    r.extra_signed_headers = extra;
    std::string out = method + " " + target + " HTTP/1.1\r\n";
    out += "Host: cbs.tencentcloudapi.com\r\n";
    out += "Content-Type: " + std::string(r.content_type) + "\r\n";
    out += "Authorization: " + signer.authorization(r) + "\r\n";
    out += "X-TC-Action: " + action + "\r\nX-TC-Version: 2017-03-12\r\nX-TC-Timestamp: " + std::to_string(ts) + "\r\n";
    out += "X-TC-Region: " + region + "\r\n";
    if (!a.token.empty()) out += "X-TC-Token: " + a.token + "\r\n";
    return out + "\r\n" + body;
}

// A request the harness re-signs (X-Fuzz-Sign): the signature is a placeholder.
std::string unsigned_request(const std::string& action, const std::string& region, const std::string& body) {
    return "POST / HTTP/1.1\nHost: cbs.tencentcloudapi.com\nContent-Type: application/json\nX-TC-Action: " + action +
           "\nX-TC-Version: 2017-03-12\nX-TC-Region: " + region +
           "\nX-TC-Timestamp: 1717200000\nX-Fuzz-Sign: 1\nAuthorization: TC3-HMAC-SHA256 "
           "Credential=AKIDfuzzPermanent0000000000000000001/2024-06-01/cbs/tc3_request, "
           "SignedHeaders=content-type;host, Signature=" +
           std::string(64, '0') + "\n\n" + body;
}

const std::string sep = "\n%%%%\n";

void write(const std::string& path, const std::string& s) {
    std::ofstream(path, std::ios::binary) << s;
    std::cout << path << "\n";
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: make_seed_requests <corpus dir>\n";
        return 2;
    }
    const std::string a = std::string(argv[1]) + "/emulator_auth/";
    const std::string g = std::string(argv[1]) + "/emulator_gateway/";
    const std::string create =
        R"({"DiskIds":["disk-6pu3vuq0","disk-u9gqplnl"],"SnapshotGroupName":"fleet-ins-15nltoqs-run1","Tags":[{"Key":"run","Value":"1"}]})";

    write(a + "post-describe-disks",
          request(perm, "POST", "/", "DescribeDisks",
                  R"({"Filters":[{"Name":"instance-id","Values":["ins-15nltoqs"]}],"Limit":100})"));
    write(a + "post-temporary-token", request(temp, "POST", "/", "CreateSnapshotGroup", create));
    write(a + "get-signed-action",
          request(perm, "GET", "/?Limit=20&Offset=0", "DescribeSnapshots", "", 1717200000, true));
    write(a + "expired-timestamp", request(perm, "POST", "/", "DescribeDisks", "{}", 1717199000));
    write(a + "fuzz-sign-bad-signature",
          "POST / HTTP/1.1\nHost: cbs.tencentcloudapi.com\nContent-Type: application/json\nX-TC-Action: "
          "DescribeDisks\nX-TC-Timestamp: 1717200000\nX-TC-Token: fuzzSessionToken0002\nX-TC-Content-SHA256: "
          "UNSIGNED-PAYLOAD\nX-Fuzz-Sign: 1\nAuthorization: TC3-HMAC-SHA256 "
          "Credential=AKIDfuzzTemporary0000000000000000002/2024-06-01/cbs/tc3_request, "
          "SignedHeaders=content-type;host;x-tc-action, Signature=" +
              std::string(64, '0') + "\n\n{\"Limit\":1}");
    // The documented example (test/data/tc3_vectors.json): another service, another key.
    write(
        a + "doc-example-cvm",
        "POST / HTTP/1.1\nHost: cvm.tencentcloudapi.com\nContent-Type: application/json; charset=utf-8\nX-TC-Action: "
        "DescribeInstances\nX-TC-Timestamp: 1551113065\nX-TC-Version: 2017-03-12\nX-TC-Region: "
        "ap-guangzhou\nAuthorization: TC3-HMAC-SHA256 "
        "Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, "
        "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168\n\n{\"Limit\": 1, \"Filters\": "
        "[{\"Values\": [\"\\u672a\\u547d\\u540d\"], \"Name\": \"instance-name\"}]}");

    write(
        g + "describe-disks",
        request(
            perm, "POST", "/", "DescribeDisks",
            R"({"Filters":[{"Name":"instance-id","Values":["ins-15nltoqs","ins-wnrvv1cr"]}],"Limit":100,"Offset":0})"));
    write(g + "create-then-describe",
          request(perm, "POST", "/", "CreateSnapshotGroup", create) + sep +
              request(perm, "POST", "/", "DescribeSnapshotGroups",
                      R"({"Filters":[{"Name":"snapshot-group-name","Values":["fleet-ins-15nltoqs-run1"]}]})") +
              sep +
              request(perm, "POST", "/", "DescribeSnapshots",
                      R"({"Filters":[{"Name":"disk-id","Values":["disk-6pu3vuq0"]}],"Limit":20})"));
    write(g + "get-query-snapshots",
          request(perm, "GET", "/?Filters.0.Name=snapshot-state&Filters.0.Values.0=NORMAL&Limit=20&Offset=0",
                  "DescribeSnapshots", ""));
    write(g + "get-query-disks",
          request(temp, "GET", "/?DiskIds.0=disk-6pu3vuq0&DiskIds.1=disk-g85dnrer&ReturnBindAutoSnapshotPolicy=true",
                  "DescribeDisks", ""));
    write(g + "create-delete", request(perm, "POST", "/", "CreateSnapshotGroup", R"({"DiskIds":["disk-nkmyus4p"]})") +
                                   sep +
                                   request(perm, "POST", "/", "DeleteSnapshotGroup",
                                           R"({"SnapshotGroupIds":["csnap-pf3veshs"],"DeleteBindImages":true})"));
    write(g + "errors-version-region-action",
          request(perm, "POST", "/", "DescribeDisks", "{}", 1717200000, false, "xx-nowhere") + sep +
              request(perm, "POST", "/", "RunInstances", "{}") + sep +
              request(perm, "PUT", "/", "DescribeDisks", "{}") + sep +
              request(perm, "POST", "/", "DescribeDisks", "not json"));
    write(g + "fuzz-sign-snapshots-burst", unsigned_request("DescribeSnapshots", "ap-guangzhou", "{\"Limit\":5}") +
                                               sep + unsigned_request("DescribeSnapshots", "ap-shanghai", "{}") + sep +
                                               unsigned_request("DescribeSnapshots", "ap-guangzhou", "{\"Offset\":1}"));
    return 0;
}
