// Inputs found by the libFuzzer targets of test/fuzz, kept as regression
// tests (test/fuzz/README.md: a crash found becomes a case here). Each case names
// the target that found it.
#include <cbs/detail/envelope.hpp>
#include <cbs/emulator/auth.hpp>
#include <cbs/error.hpp>
#include <cbs/journal.hpp>
#include <cbs/tc3_signer.hpp>

// The emulator's request pipeline without I/O (private to the emulator).
#include "../../emulator/src/gateway.hpp"

#include <doctest/doctest.h>

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

bool is_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            n = 1, cp = c & 0x1Fu;
        else if (c >= 0xE0 && c <= 0xEF)
            n = 2, cp = c & 0x0Fu;
        else if (c >= 0xF0 && c <= 0xF4)
            n = 3, cp = c & 0x07u;
        else
            return false;
        if (i + n >= s.size()) return false;
        for (std::size_t k = 1; k <= n; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3Fu);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        i += n + 1;
    }
    return true;
}

// U+FDD0 (3 bytes) starting at byte 39: a cut at 40 bytes falls inside it.
const std::string straddling = std::string(39, 'a') + "\xEE\xB7\x90" + "bbbb";

}  // namespace

// Found by fuzz_emulator_auth: parse_authorization quoted the first 40 bytes
// of a bad part, cutting a UTF-8 character in two; the message then made the
// emulator's JSON answer invalid UTF-8 (a client reads it as bad_response).
TEST_CASE("fuzz regression: Authorization errors do not cut a UTF-8 character (fuzz_emulator_auth)") {
    std::string why;

    // "expected key=value, got `...`"
    CHECK_FALSE(cbs::emu::parse_authorization("TC3-HMAC-SHA256 " + straddling, why));
    CHECK(is_utf8(why));
    CHECK(why.find("got `" + std::string(39, 'a') + "`") != std::string::npos);

    // "unknown field `...`"
    why.clear();
    CHECK_FALSE(cbs::emu::parse_authorization("TC3-HMAC-SHA256 " + straddling + "=x", why));
    CHECK(is_utf8(why));
    CHECK(why.find("unknown field `" + std::string(39, 'a') + "`") != std::string::npos);

    // "unsupported algorithm `...`"
    why.clear();
    CHECK_FALSE(cbs::emu::parse_authorization(straddling + " Credential=x", why));
    CHECK(is_utf8(why));
    CHECK(why.find("unsupported algorithm `" + std::string(39, 'a') + "`") != std::string::npos);

    // The same through verify_tc3, as the gateway calls it.
    const std::string authz = "TC3-HMAC-SHA256 " + straddling;
    const std::vector<cbs::emu::http_header> headers = {{"Authorization", authz}};
    cbs::emu::auth_input in;
    in.method = "POST";
    in.target = "/";
    in.headers = headers;
    in.timestamp = in.now = 1717200000;
    in.timestamp_text = "1717200000";
    cbs::tc3_signer signer;
    const auto out = cbs::emu::verify_tc3(in, {}, signer);
    REQUIRE(out.error);
    CHECK(out.error->code == "AuthFailure.InvalidAuthorization");
    CHECK(is_utf8(out.error->message));
}

// Found by fuzz_emulator_gateway: the gateway quotes request bytes (method,
// X-TC-Region, X-TC-Action, Authorization parts, ...) in its error messages
// and serialises them as they are, so a request with a byte that is not UTF-8
// gets an answer that is not JSON: the client sees bad_response instead of
// the error code. Likewise a GET query whose percent-decoded values are not
// UTF-8 reaches the fleet and can come back in an answer.
//
// Fixed: error messages pass through utf8_safe() (ill-formed bytes become
// U+FFFD) and query_to_params rejects names or values that are not UTF-8.
TEST_CASE("fuzz regression: the emulator answers JSON to a request holding non-UTF-8 bytes (fuzz_emulator_gateway)") {
    cbs::emu::emulator_params params;
    params.fleet.instances = 1;
    params.fleet.unattached_disks = 0;
    params.unix_time = [] { return std::int64_t{1717200000}; };
    cbs::emu::detail::gateway gw(params,
                                 {{"AKIDregression0000000000000000000001", "regressionSecretKey0000000000001", ""}});
    cbs::tc3_signer signer;

    auto answer_code = [&](std::string_view method, std::string_view region) {
        const std::vector<cbs::emu::http_header> headers = {
            {"Host", "cbs.tencentcloudapi.com"},        {"Content-Type", "application/json"},
            {"X-TC-Action", "DescribeDisks"},           {"X-TC-Version", "2017-03-12"},
            {"X-TC-Timestamp", "1717200000"},           {"X-TC-Region", region},
            {"Authorization", "TC3-HMAC-SHA256\xFF x"},
        };
        cbs::emu::detail::incoming_request req;
        req.method = method;
        req.target = "/";
        req.headers = headers;
        req.body = "{}";
        const auto plan = gw.handle(req, signer);
        boost::json::object response;
        cbs::diagnostics diag;
        const auto ec = cbs::detail::parse_envelope(plan.body, response, diag);
        CHECK_MESSAGE(is_utf8(plan.body), plan.body);
        CHECK(ec != cbs::make_error_code(cbs::client_errc::bad_response));
        return diag.server_code;
    };
    // The method is quoted in UnsupportedProtocol (the first check).
    CHECK(answer_code("P\xFFST", "ap-guangzhou") == "UnsupportedProtocol");
    // The algorithm is quoted in AuthFailure.InvalidAuthorization.
    CHECK(answer_code("POST", "ap-guangzhou") == "AuthFailure.InvalidAuthorization");
}

TEST_CASE("fuzz regression: a journal 'deleted' record without a group_id is refused (fuzz_journal)") {
    // It made an entry with nothing in it, which the writer's format cannot
    // express: a resume would have seen an instance the journal says nothing of.
    const std::string text =
        "{\"type\":\"run\",\"run_id\":\"r1\",\"name_prefix\":\"fleet\"}\n"
        "{\"type\":\"deleted\",\"run_id\":\"r1\",\"instance\":\"ins-wnrvv1cr\"}\n";
    cbs::journal_contents c;
    cbs::diagnostics diag;
    CHECK(cbs::parse_journal(text, "j", c, diag) == cbs::client_errc::invalid_request);
    CHECK(diag.client_message.find("j:2: a 'deleted' record names no group_id") != std::string::npos);
}
