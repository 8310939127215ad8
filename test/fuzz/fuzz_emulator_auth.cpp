// libFuzzer target: the emulator's TC3-HMAC-SHA256 verification
// (emulator/include/cbs/emulator/auth.hpp): parse_authorization, verify_tc3,
// find_header.
//
// Input: a request framed as in fuzz_common.hpp (request line, header lines,
// empty line, body). X-TC-Timestamp is read as the gateway reads it; the
// server time is 1717200000. A header "X-Fuzz-Sign" (removed before the
// check) makes the harness put the correct signature into the Authorization,
// so the checks after the signature (token) are reached too.
//
// Checked: parse_authorization's result has the documented shape, its
// reason never contains the signature; verify_tc3 never throws, answers only
// codes the client library knows, its messages are UTF-8 when the request
// is, and no message holds a secret key (unless the input itself does).
#include "fuzz_common.hpp"

#include <cbs/emulator/auth.hpp>
#include <cbs/error.hpp>

#include <algorithm>

using namespace cbs_fuzz;

namespace {

constexpr std::int64_t server_now = 1717200000;

bool is_lower_hex64(std::string_view s) {
    return s.size() == 64 &&
           std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

void check_parse(std::string_view value) {
    std::string why;
    const auto p = cbs::emu::parse_authorization(value, why);
    if (!p) {
        FUZZ_CHECK(!why.empty());
        // The reason never quotes the signature.
        for (auto pos = value.find("Signature="); pos != std::string_view::npos;
             pos = value.find("Signature=", pos + 1)) {
            const auto sig = value.substr(pos + 10, 64);
            if (is_lower_hex64(sig)) FUZZ_CHECK(!contains(why, sig));
        }
        return;
    }
    FUZZ_CHECK(p->algorithm == "TC3-HMAC-SHA256");
    FUZZ_CHECK(!p->secret_id.empty());
    FUZZ_CHECK(p->date.size() == 10 && p->date[4] == '-' && p->date[7] == '-');
    FUZZ_CHECK(p->terminator == "tc3_request");
    FUZZ_CHECK(is_lower_hex64(p->signature));
    FUZZ_CHECK(std::is_sorted(p->signed_headers.begin(), p->signed_headers.end()));
    FUZZ_CHECK(std::adjacent_find(p->signed_headers.begin(), p->signed_headers.end()) == p->signed_headers.end());
    FUZZ_CHECK(std::binary_search(p->signed_headers.begin(), p->signed_headers.end(), "content-type"));
    FUZZ_CHECK(std::binary_search(p->signed_headers.begin(), p->signed_headers.end(), "host"));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 64 * 1024) return 0;
    static cbs::tc3_signer signer;  // one per connection in the emulator: its cache persists
    const auto input = as_view(data, size);
    auto req = split_request(input);

    std::int64_t ts = 0;
    const auto ts_text = cbs::emu::find_header(req.headers, "X-TC-Timestamp").value_or("");
    parse_timestamp(ts_text, ts);  // the gateway rejects a bad one first; verify_tc3 must cope anyway

    std::string resigned;
    maybe_resign(req.headers, req.method, req.target, req.body, ts, server_now, signer, resigned);

    // find_header: the first match, case-insensitively.
    for (const auto& h : req.headers) {
        const auto v = cbs::emu::find_header(req.headers, h.name);
        FUZZ_CHECK(v.has_value());
    }
    if (const auto authz = cbs::emu::find_header(req.headers, "Authorization")) check_parse(*authz);

    cbs::emu::auth_input in;
    in.method = req.method;
    in.target = req.target;
    in.headers = req.headers;
    in.body = req.body;
    in.timestamp = ts;
    in.timestamp_text = ts_text;
    in.now = server_now;
    const auto& accounts = fuzz_accounts();
    const auto out = cbs::emu::verify_tc3(in, accounts, signer);
    if (out.error) {
        FUZZ_CHECK(out.error->code.rfind("AuthFailure.", 0) == 0);
        FUZZ_CHECK(cbs::api_error_from_string(out.error->code) != cbs::make_error_code(cbs::api_errc::unrecognized));
        FUZZ_CHECK(!out.error->message.empty());
        // Messages quote parts of the header, cut to a length: from UTF-8 in,
        // UTF-8 out (the gateway puts the message into a JSON answer).
        if (is_valid_utf8(input)) {
            if (!is_valid_utf8(out.error->message))
                std::fprintf(stderr, "message is not UTF-8: %s\n", out.error->message.c_str());
            FUZZ_CHECK(is_valid_utf8(out.error->message));
        }
        for (const auto& a : accounts) {
            if (!contains(input, a.secret_key)) FUZZ_CHECK(!contains(out.error->message, a.secret_key));
            if (!contains(input, a.token) && !a.token.empty()) FUZZ_CHECK(!contains(out.error->message, a.token));
        }
    } else {
        // Verified: a known account, and the token rule held.
        const auto it =
            std::find_if(accounts.begin(), accounts.end(), [&](const auto& a) { return a.secret_id == out.secret_id; });
        FUZZ_CHECK(it != accounts.end());
        const auto token = cbs::emu::find_header(req.headers, "X-TC-Token").value_or("");
        FUZZ_CHECK(token == it->token);
    }
    return 0;
}
