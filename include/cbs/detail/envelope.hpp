// Parsing of the Tencent Cloud API 3.0 response envelope (pure, no I/O).
//
//   {"Response": {..., "RequestId": "..."}}                          success
//   {"Response": {"Error": {"Code": .., "Message": ..}, "RequestId": ..}}  API error
#pragma once

#include <cbs/error.hpp>

#include <boost/json/object.hpp>

#include <string_view>

namespace cbs::detail {

/// Parses `body`. On success returns {} and moves the `Response` object into
/// `response` (RequestId included). On an API error returns the code's
/// error_code (api_category) and fills diag.server_code/server_message/
/// request_id. A body that is not an API 3.0 envelope returns
/// client_errc::bad_response with a short description in diag.client_message
/// (never the whole body: it may be large).
error_code parse_envelope(std::string_view body, boost::json::object& response, diagnostics& diag);

}  // namespace cbs::detail
