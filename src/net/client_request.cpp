// The pure parts of one call attempt (see detail/client_request.hpp).
#include <cbs/detail/client_request.hpp>
#include <cbs/detail/envelope.hpp>
#include <cbs/detail/http_connection.hpp>

#include <boost/asio/error.hpp>

#include <algorithm>

namespace cbs::detail {

namespace {

constexpr std::string_view request_client = "cbs-async/0.1.0";

bool is_token_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

}  // namespace

std::string build_request(const client_params& p, std::string_view host, std::string_view action,
                          std::string_view payload, std::int64_t ts, tc3_signer& signer, const credentials* c) {
    tc3_header action_header{"X-TC-Action", action};
    std::string authorization = "SKIP";
    if (c) {
        tc3_request sr;
        sr.secret_id = c->secret_id;
        sr.secret_key = c->secret_key;
        sr.service = p.service;
        sr.host = host;
        sr.content_type = p.content_type;
        sr.payload = payload;
        sr.timestamp = ts;
        if (p.sign_action) sr.extra_signed_headers = {&action_header, 1};
        authorization = signer.authorization(sr);
    }
    const auto timestamp = std::to_string(ts);
    const auto length = std::to_string(payload.size());

    std::string wire;
    wire.reserve(320 + host.size() + authorization.size() + (c ? c->token.size() : 0) + payload.size());
    auto field = [&wire](std::string_view name, std::string_view value) {
        wire.append(name).append(": ").append(value).append("\r\n");
    };
    wire.append("POST / HTTP/1.1\r\n");
    field("Host", host);
    field("Authorization", authorization);
    field("Content-Type", p.content_type);
    field("X-TC-Action", action);
    field("X-TC-Timestamp", timestamp);
    field("X-TC-Version", p.version);
    field("X-TC-Region", p.region);
    if (c && c->temporary()) field("X-TC-Token", c->token);
    if (!p.language.empty()) field("X-TC-Language", p.language);
    field("X-TC-RequestClient", request_client);
    field("Content-Length", length);
    wire.append("\r\n").append(payload);
    return wire;
}

error_code check_call_input(const client_params& p, std::string_view action, std::string_view payload,
                            const call_options& opts, diagnostics& diag) {
    if (opts.deadline.count() < 0 || opts.request_timeout.count() < 0) {
        diag.client_message = "call_options: a negative deadline or request_timeout (0 means the client's default)";
        return client_errc::invalid_request;
    }
    if (action.empty() || !std::all_of(action.begin(), action.end(), is_token_char)) {
        diag.client_message = "action '" + std::string(action) + "' is not an API action name (letters and digits)";
        return client_errc::invalid_request;
    }
    if (payload.size() > p.max_request_body) {
        diag.client_message = "request body of " + std::to_string(payload.size()) + " bytes exceeds the limit of " +
                              std::to_string(p.max_request_body);
        return client_errc::invalid_request;
    }
    return {};
}

void conclude_exchange(const exchange_result& r, const endpoint& ep, std::string_view action,
                       result<boost::json::object>& out) {
    if (r.ec) {
        out.diag.client_message = std::string(action) + " to " + ep.url() + ": " + r.ec.message();
        out.ec = r.ec == boost::asio::error::operation_aborted ? error_code(client_errc::cancelled) : r.ec;
        return;
    }
    if (r.status != 200) {
        // 429: a gateway throttled us before the API saw the request (safe
        // to send again, after slowing down). Other 4xx (and 1xx/3xx that
        // reach here): refused before the API, and sending again will not
        // change that. 5xx: a gateway fault; the API may have acted.
        const auto status = std::to_string(r.status);
        std::string what;
        if (r.status == 429) {
            out.ec = client_errc::http_throttled;
            what = "throttled by a gateway (429 Too Many Requests)";
        } else if (r.status >= 500 && r.status <= 599) {
            out.ec = client_errc::http_status;
            what = "not an API answer (a gateway or proxy error)";
        } else if (r.status >= 200 && r.status <= 299) {
            out.ec = client_errc::http_status;
            what = "a success status other than 200 is not an API answer";
        } else {
            out.ec = client_errc::http_rejected;
            what = "refused before the API saw the request (a proxy, firewall or gateway); not retried";
        }
        out.diag.client_message = "HTTP " + status + " from " + ep.url() +
                                  (r.content_type.empty() ? "" : " (" + r.content_type + ")") + ": " + what;
        return;
    }
    out.ec = parse_envelope(r.body, out.value, out.diag);
}

}  // namespace cbs::detail
