// libFuzzer target: the response envelope and the typed response parsers.
//
// Input: a response body as the client receives it. It goes through
// detail::parse_envelope, then (whatever the envelope said) the "Response"
// object, or the top-level object when there is none, goes through every
// typed from_json: CreateSnapshotGroup, DescribeDisks, DescribeSnapshotGroups,
// DeleteSnapshotGroup, DescribeSnapshots.
#include "fuzz_common.hpp"

#include <cbs/actions.hpp>
#include <cbs/describe_actions.hpp>
#include <cbs/detail/envelope.hpp>
#include <cbs/error.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

using cbs_fuzz::as_view;

namespace {

template <class Response>
void typed(const boost::json::object& response) {
    Response out;
    cbs::diagnostics diag;
    const auto ec = cbs::from_json(response, out, diag);
    // A failure always says why; a success never leaves a message behind.
    if (ec) {
        FUZZ_CHECK(ec == cbs::make_error_code(cbs::client_errc::bad_response));
        FUZZ_CHECK(!diag.client_message.empty());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto body = as_view(data, size);

    boost::json::object response;
    cbs::diagnostics diag;
    const auto ec = cbs::detail::parse_envelope(body, response, diag);
    if (!ec) {
        // Success: the Response object with a non-empty RequestId, no Error.
        const auto it = response.find("RequestId");
        FUZZ_CHECK(it != response.end() && it->value().is_string() && !it->value().get_string().empty());
        FUZZ_CHECK(diag.request_id == it->value().get_string());
        FUZZ_CHECK(!response.contains("Error"));
    } else if (ec == cbs::make_error_code(cbs::client_errc::bad_response)) {
        // Never the whole body in the message (it may be large).
        FUZZ_CHECK(!diag.client_message.empty());
        FUZZ_CHECK(diag.client_message.size() < 200);
    } else {
        // An API error: its code is kept verbatim.
        FUZZ_CHECK(!diag.server_code.empty());
        FUZZ_CHECK(cbs::api_error_from_string(diag.server_code) == ec);
    }

    boost::system::error_code jec;
    auto root = boost::json::parse(body, jec);
    if (jec || !root.is_object()) return 0;
    const boost::json::object* obj = &root.get_object();
    if (auto it = obj->find("Response"); it != obj->end() && it->value().is_object()) obj = &it->value().get_object();

    typed<cbs::create_snapshot_group_response>(*obj);
    typed<cbs::describe_disks_response>(*obj);
    typed<cbs::describe_snapshot_groups_response>(*obj);
    typed<cbs::delete_snapshot_group_response>(*obj);
    typed<cbs::describe_snapshots_response>(*obj);
    return 0;
}
