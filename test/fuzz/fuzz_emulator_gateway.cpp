// libFuzzer target: the emulator's whole request pipeline without I/O
// (emulator/src/gateway.hpp: method, size, common headers, TC3 auth, action /
// version / region, rate limit, JSON body or GET query, faults, the action on
// the fleet), plus detail::query_to_params on the query string.
//
// Input: up to 8 requests, each framed as in fuzz_common.hpp, separated by a
// line "%%%%". They run in order on one fresh gateway per input: the fleet of
// fuzz_fleet(), the accounts of fuzz_accounts(), server time 1717200000
// (steady clock +100 ms per request), DescribeSnapshots limited to 2 per
// second and given every fault kind (seed 1). "X-Fuzz-Sign" (see
// fuzz_common.hpp) re-signs a request so that it passes authentication.
//
// Checked: handle() never throws; every answer is an API 3.0 envelope the
// client parses (success, or an error code it knows) with a UUID RequestId,
// a successful typed action reads back through the client's from_json, a 502
// or reset carries no body, and no answer holds a secret key unless the
// input does.
#include "fuzz_common.hpp"

#include "gateway.hpp"

#include <cbs/actions.hpp>
#include <cbs/describe_actions.hpp>
#include <cbs/detail/envelope.hpp>
#include <cbs/error.hpp>

using namespace cbs_fuzz;
using namespace std::chrono_literals;

namespace {

constexpr std::int64_t server_now = 1717200000;

cbs::emu::emulator_params gateway_params(cbs::emu::clock::time_point* steady) {
    cbs::emu::emulator_params p;
    p.fleet = fuzz_fleet();
    p.accounts = fuzz_accounts();
    p.max_body = 4096;
    p.max_log_records = 16;
    p.rate_limits.overrides["DescribeSnapshots"] = 2;
    cbs::emu::fault_rule all;
    all.transient = 0.15;
    all.gateway_502 = 0.1;
    all.reset_before = 0.1;
    all.reset_after = 0.1;
    all.slow = 0.1;
    all.latency = 0.3;
    p.faults.rules["DescribeSnapshots"] = all;
    p.unix_time = [] { return server_now; };
    p.steady_now = [steady] { return *steady; };
    return p;
}

bool is_uuid(std::string_view s) {
    if (s.size() != 36) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash != (s[i] == '-')) return false;
        if (!dash && !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    }
    return true;
}

template <class Response>
void reads_back(const boost::json::object& response) {
    Response out;
    cbs::diagnostics diag;
    const auto ec = cbs::from_json(response, out, diag);
    if (ec) std::fprintf(stderr, "client cannot read the emulator's answer: %s\n", diag.client_message.c_str());
    FUZZ_CHECK(!ec);
}

void check_query(std::string_view target) {
    const auto q = target.find('?');
    if (q == std::string_view::npos) return;
    boost::json::object params;
    std::string why;
    if (!cbs::emu::detail::query_to_params(target.substr(q + 1), params, why)) FUZZ_CHECK(!why.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 32 * 1024) return 0;
    static cbs::tc3_signer signer;
    auto steady = cbs::emu::clock::time_point{} + 1000h;
    cbs::emu::detail::gateway gw(gateway_params(&steady), fuzz_accounts());

    const auto input = as_view(data, size);
    auto rest = input;
    for (int n = 0; n < 8 && !rest.empty(); ++n) {
        std::string_view one = rest;
        if (const auto sep = rest.find("\n%%%%\n"); sep != std::string_view::npos) {
            one = rest.substr(0, sep);  // the body does not end with that "\n"
            rest.remove_prefix(sep + 6);
        } else {
            rest = {};
        }
        auto fr = split_request(one);
        check_query(fr.target);

        std::int64_t ts = 0;
        parse_timestamp(cbs::emu::find_header(fr.headers, "X-TC-Timestamp").value_or(""), ts);
        std::string resigned;
        maybe_resign(fr.headers, fr.method, fr.target, fr.body, ts, server_now, signer, resigned);

        cbs::emu::detail::incoming_request req;
        req.method = fr.method;
        req.target = fr.target;
        req.headers = fr.headers;
        req.body = fr.body;
        const auto plan = gw.handle(req, signer);
        steady += 100ms;

        for (const auto& a : fuzz_accounts())
            if (!contains(input, a.secret_key)) FUZZ_CHECK(!contains(plan.body, a.secret_key));
        if (plan.what != cbs::emu::detail::reply_plan::kind::respond) {
            FUZZ_CHECK(plan.body.empty());
            continue;
        }
        // Every answer is JSON, hence UTF-8, whatever bytes the request held
        // (the emulator quotes header values and truncates them in messages).
        if (!is_valid_utf8(plan.body)) std::fprintf(stderr, "answer is not UTF-8: %s\n", plan.body.c_str());
        FUZZ_CHECK(is_valid_utf8(plan.body));
        boost::json::object response;
        cbs::diagnostics diag;
        const auto ec = cbs::detail::parse_envelope(plan.body, response, diag);
        if (ec == cbs::make_error_code(cbs::client_errc::bad_response))
            std::fprintf(stderr, "unparsable answer: %s\n", plan.body.c_str());
        FUZZ_CHECK(ec != cbs::make_error_code(cbs::client_errc::bad_response));
        if (ec == cbs::make_error_code(cbs::api_errc::unrecognized))
            std::fprintf(stderr, "unknown code: %s\n", diag.server_code.c_str());
        FUZZ_CHECK(ec != cbs::make_error_code(cbs::api_errc::unrecognized));
        FUZZ_CHECK(is_uuid(diag.request_id));
        if (ec) continue;
        const auto action = cbs::emu::find_header(fr.headers, "X-TC-Action").value_or("");
        if (action == "CreateSnapshotGroup")
            reads_back<cbs::create_snapshot_group_response>(response);
        else if (action == "DescribeDisks")
            reads_back<cbs::describe_disks_response>(response);
        else if (action == "DescribeSnapshotGroups")
            reads_back<cbs::describe_snapshot_groups_response>(response);
        else if (action == "DeleteSnapshotGroup")
            reads_back<cbs::delete_snapshot_group_response>(response);
        else if (action == "DescribeSnapshots")
            reads_back<cbs::describe_snapshots_response>(response);
    }
    return 0;
}
