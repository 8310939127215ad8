// Error categories for client-side and service-side codes.
#include <cbs/error.hpp>

#include <algorithm>
#include <array>

namespace cbs {
namespace {

class client_category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "cbs.client"; }
    std::string message(int ev) const override {
        switch (static_cast<client_errc>(ev)) {
            case client_errc::invalid_request:
                return "invalid request (nothing was sent)";
            case client_errc::invalid_config:
                return "invalid client configuration";
            case client_errc::credentials_missing:
                return "no credentials found";
            case client_errc::credentials_invalid:
                return "credentials source is unreadable or malformed";
            case client_errc::resolve_timeout:
                return "timed out resolving the endpoint host";
            case client_errc::connect_timeout:
                return "timed out connecting to the endpoint";
            case client_errc::handshake_timeout:
                return "timed out in the TLS handshake";
            case client_errc::request_timeout:
                return "timed out waiting for the response";
            case client_errc::connection_closed:
                return "connection closed before a complete response";
            case client_errc::http_status:
                return "unexpected HTTP status (gateway error)";
            case client_errc::bad_response:
                return "response is not a valid API 3.0 envelope";
            case client_errc::response_too_large:
                return "response body exceeds the configured limit";
            case client_errc::plain_http_refused:
                return "plain http endpoint refused (TLS required)";
            case client_errc::cancelled:
                return "operation cancelled";
            case client_errc::outcome_unknown:
                return "request sent but outcome unknown (no answer)";
            case client_errc::pool_exhausted:
                return "no connection available in time";
            case client_errc::deadline_exceeded:
                return "the call's deadline passed";
            case client_errc::http_throttled:
                return "HTTP 429 Too Many Requests (throttled by a gateway)";
            case client_errc::http_rejected:
                return "HTTP 4xx: the request was refused before the API saw it";
            case client_errc::journal_failed:
                return "the fleet journal could not be written";
            case client_errc::run_in_progress:
                return "another run holds this run's journal lock";
            case client_errc::proxy_rejected:
                return "the proxy refused the tunnel to the API";
            case client_errc::proxy_failed:
                return "the proxy could not open a tunnel to the API";
        }
        return "unknown cbs client error";
    }
};

struct api_entry {
    api_errc value;
    std::string_view text;
};

constexpr std::array api_table{
#define CBS_API_ERROR(name, text) api_entry{api_errc::name, text},
#include <cbs/detail/api_error_codes.inc>
#undef CBS_API_ERROR
};

class api_category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "cbs.api"; }
    std::string message(int ev) const override {
        auto text = to_string(static_cast<api_errc>(ev));
        if (text.empty()) return "service error (code not recognised; see diagnostics)";
        return std::string(text);
    }
};

}  // namespace

const boost::system::error_category& client_category() noexcept {
    static const client_category_impl cat;
    return cat;
}

const boost::system::error_category& api_category() noexcept {
    static const api_category_impl cat;
    return cat;
}

std::string_view to_string(api_errc e) noexcept {
    for (const auto& entry : api_table)
        if (entry.value == e) return entry.text;
    return {};
}

error_code api_error_from_string(std::string_view code) noexcept {
    for (const auto& entry : api_table)
        if (entry.text == code) return make_error_code(entry.value);
    return make_error_code(api_errc::unrecognized);
}

std::string diagnostics::to_string(const error_code& ec) const {
    std::string out;
    if (!server_code.empty()) {
        out = server_code;
        if (!server_message.empty()) out += ": " + server_message;
    } else {
        out = ec.message();
        if (!client_message.empty()) out += ": " + client_message;
    }
    if (!server_code.empty() && !client_message.empty()) out += " [" + client_message + "]";
    if (!request_id.empty()) out += " (RequestId " + request_id + ")";
    if (attempts > 1) out += " after " + std::to_string(attempts) + " attempts";
    return out;
}

error::error(error_code ec, diagnostics diag)
    : boost::system::system_error(ec, diag.to_string(ec)), diag_(std::move(diag)) {}

}  // namespace cbs
