// libFuzzer target: the emulator's pure service state,
// cbs::emu::fleet_state::handle(action, params, now).
//
// Input: one call per line, run in order on a fresh small fleet (seed 1,
// 4 instances, 2 unattached disks, a quota of 12 snapshots: the ids are in
// the seed corpus and the dictionary):
//
//     [+SECONDS ]Action {JSON object}
//
// "+SECONDS" first advances the clock (groups become NORMAL after 3 s); a
// line that is only "+SECONDS" just waits. A body that is not a JSON object
// is skipped (the gateway rejects it before the fleet sees it).
//
// Checked: handle() never throws; an error carries a code the client library
// knows (api_error_from_string) and a UTF-8 message; an unknown action is
// InvalidAction; a success, wrapped as the gateway wraps it, reads back
// through the client's typed from_json without bad_response (the emulator and
// the client agree on the wire format); the snapshot quota holds.
#include "fuzz_common.hpp"

#include <cbs/actions.hpp>
#include <cbs/describe_actions.hpp>
#include <cbs/detail/envelope.hpp>
#include <cbs/emulator/fleet_state.hpp>
#include <cbs/error.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <chrono>

using namespace cbs_fuzz;
using namespace std::chrono_literals;

namespace {

template <class Response>
void reads_back(const boost::json::object& response) {
    // Through the wire form, exactly as the client gets it.
    boost::json::object r = response;
    r["RequestId"] = "00000000-0000-4000-8000-000000000000";
    const auto body = boost::json::serialize(boost::json::object{{"Response", std::move(r)}});
    boost::json::object parsed;
    cbs::diagnostics diag;
    FUZZ_CHECK(!cbs::detail::parse_envelope(body, parsed, diag));
    Response out;
    const auto ec = cbs::from_json(parsed, out, diag);
    if (ec)
        std::fprintf(stderr, "client cannot read the emulator's answer: %s\n%s\n", diag.client_message.c_str(),
                     body.c_str());
    FUZZ_CHECK(!ec);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 16 * 1024) return 0;
    static const auto params = fuzz_fleet();
    cbs::emu::fleet_state fleet(params);
    auto now = cbs::emu::clock::time_point{} + 1000h;

    auto text = as_view(data, size);
    for (int calls = 0; !text.empty() && calls < 64; ++calls) {
        const auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

        if (!line.empty() && line.front() == '+') {
            unsigned secs = 0;
            const auto sp = line.find(' ');
            const auto num = line.substr(1, sp == std::string_view::npos ? std::string_view::npos : sp - 1);
            std::from_chars(num.data(), num.data() + num.size(), secs);
            now += std::chrono::seconds(std::min(secs, 100000u));
            line.remove_prefix(sp == std::string_view::npos ? line.size() : sp + 1);
        }
        if (line.empty()) continue;
        const auto sp = line.find(' ');
        const auto action = line.substr(0, sp);
        const auto body = sp == std::string_view::npos ? std::string_view("{}") : line.substr(sp + 1);
        boost::system::error_code jec;
        auto v = boost::json::parse(body, jec);
        if (jec || !v.is_object()) continue;

        const auto r = fleet.handle(action, v.get_object(), now);
        FUZZ_CHECK(fleet.snapshot_count() <= params.snapshot_quota);
        if (!cbs::emu::fleet_state::known_action(action)) {
            FUZZ_CHECK(r.error && r.error->code == "InvalidAction");
            continue;
        }
        // The body was JSON, so UTF-8: so must be what goes back.
        if (r.error && !is_valid_utf8(r.error->message))
            std::fprintf(stderr, "message is not UTF-8: %s\n", r.error->message.c_str());
        FUZZ_CHECK(!r.error || is_valid_utf8(r.error->message));
        FUZZ_CHECK(is_valid_utf8(boost::json::serialize(r.response)));
        if (r.error) {
            FUZZ_CHECK(!r.error->message.empty());
            if (cbs::api_error_from_string(r.error->code) == cbs::make_error_code(cbs::api_errc::unrecognized))
                std::fprintf(stderr, "emulator answered a code the client does not know: %s\n", r.error->code.c_str());
            FUZZ_CHECK(cbs::api_error_from_string(r.error->code) != cbs::make_error_code(cbs::api_errc::unrecognized));
            FUZZ_CHECK(r.response.empty());
            continue;
        }
        if (action == "CreateSnapshotGroup")
            reads_back<cbs::create_snapshot_group_response>(r.response);
        else if (action == "DescribeDisks")
            reads_back<cbs::describe_disks_response>(r.response);
        else if (action == "DescribeSnapshotGroups")
            reads_back<cbs::describe_snapshot_groups_response>(r.response);
        else if (action == "DeleteSnapshotGroup")
            reads_back<cbs::delete_snapshot_group_response>(r.response);
        else if (action == "DescribeSnapshots")
            reads_back<cbs::describe_snapshots_response>(r.response);
        else if (action == "ApplySnapshotGroup")
            reads_back<cbs::apply_snapshot_group_response>(r.response);
    }
    return 0;
}
