#include <cbs/detail/envelope.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace cbs::detail {
namespace {

error_code bad(diagnostics& diag, std::string what) {
    diag.client_message = std::move(what);
    return client_errc::bad_response;
}

std::string_view string_field(const boost::json::object& o, std::string_view key) {
    auto it = o.find(key);
    if (it == o.end() || !it->value().is_string()) return {};
    return it->value().get_string();
}

}  // namespace

error_code parse_envelope(std::string_view body, boost::json::object& response, diagnostics& diag) {
    boost::system::error_code jec;
    auto root = boost::json::parse(body, jec);
    if (jec) return bad(diag, "response body is not JSON (" + jec.message() + ")");
    if (!root.is_object()) return bad(diag, "response body is not a JSON object");
    auto& top = root.get_object();
    auto it = top.find("Response");
    if (it == top.end() || !it->value().is_object()) return bad(diag, "response has no \"Response\" object");
    auto& resp = it->value().get_object();

    auto request_id = string_field(resp, "RequestId");
    diag.request_id = request_id;
    if (!request_id.empty()) diag.request_ids.emplace_back(request_id);

    if (auto err = resp.find("Error"); err != resp.end()) {
        if (!err->value().is_object()) return bad(diag, "\"Response.Error\" is not an object");
        auto& eo = err->value().get_object();
        auto code = string_field(eo, "Code");
        if (code.empty()) return bad(diag, "\"Response.Error\" has no \"Code\"");
        diag.server_code = code;
        diag.server_message = string_field(eo, "Message");
        return api_error_from_string(code);
    }
    if (request_id.empty()) return bad(diag, "response has no \"RequestId\"");
    response = std::move(resp);
    return {};
}

}  // namespace cbs::detail
