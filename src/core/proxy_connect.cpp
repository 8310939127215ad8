// The CONNECT handshake's decisions (see detail/proxy_connect.hpp).
#include <cbs/detail/proxy_connect.hpp>

#include <algorithm>
#include <vector>

namespace cbs::detail {

namespace {

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequal(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

/// Text from the proxy, fit for a message: printable ASCII only, bounded.
std::string printable(std::string_view s, std::size_t max = 80) {
    std::string out;
    for (char c : s.substr(0, max)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
    if (s.size() > max) out += "...";
    return out;
}

}  // namespace

std::string base64_encode(std::string_view in) {
    static constexpr char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= in.size(); i += 3) {
        const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                           static_cast<unsigned char>(in[i + 2]);
        out += table[(v >> 18) & 63];
        out += table[(v >> 12) & 63];
        out += table[(v >> 6) & 63];
        out += table[v & 63];
    }
    if (const auto left = in.size() - i; left > 0) {
        unsigned v = static_cast<unsigned char>(in[i]) << 16;
        if (left == 2) v |= static_cast<unsigned char>(in[i + 1]) << 8;
        out += table[(v >> 18) & 63];
        out += table[(v >> 12) & 63];
        out += left == 2 ? table[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::string connect_authority(const endpoint& target) {
    std::string a;
    const bool v6 = target.host.find(':') != std::string::npos;
    if (v6) a += '[';
    a += target.host;
    if (v6) a += ']';
    a += ':';
    a += std::to_string(target.port);
    return a;
}

std::string build_connect_request(const proxy_url& proxy, const endpoint& target) {
    const auto authority = connect_authority(target);
    std::string r;
    r.reserve(96 + 2 * authority.size());
    r.append("CONNECT ").append(authority).append(" HTTP/1.1\r\n");
    r.append("Host: ").append(authority).append("\r\n");
    if (proxy.has_credentials())
        r.append("Proxy-Authorization: Basic ").append(base64_encode(proxy.user + ":" + proxy.password)).append("\r\n");
    r.append("\r\n");
    return r;
}

proxy_handshake::proxy_handshake(const proxy_url& proxy, const endpoint& target, std::size_t max_header)
    : request_(build_connect_request(proxy, target)),
      proxy_name_(proxy.host_port()),
      target_name_(connect_authority(target)),
      sent_credentials_(proxy.has_credentials()),
      max_header_(max_header) {}

proxy_handshake::state_t proxy_handshake::fail(client_errc e, std::string what) {
    state_ = failed;
    error_ = e;
    message_ = std::move(what);
    buffer_.clear();
    return state_;
}

proxy_handshake::state_t proxy_handshake::on_received(std::string_view bytes) {
    if (state_ != need_more) return state_;
    buffer_.append(bytes);
    for (;;) {
        const auto end = buffer_.find("\r\n\r\n");
        const auto size = end == std::string::npos ? buffer_.size() : end + 4;
        if (size > max_header_)
            return fail(client_errc::proxy_failed, "proxy " + proxy_name_ + ": its answer to CONNECT " + target_name_ +
                                                       " exceeds " + std::to_string(max_header_) +
                                                       " bytes without ending its header");
        if (end == std::string::npos) return state_;
        if (on_header(size) != need_more) return state_;
        // An interim 1xx answer was dropped: look at what follows it.
    }
}

proxy_handshake::state_t proxy_handshake::on_header(std::size_t size) {
    const std::string_view header(buffer_.data(), size);
    const auto line_end = header.find("\r\n");
    const auto line = header.substr(0, line_end);
    // "HTTP/1.x 407 Reason"
    const bool http = line.size() >= 12 && line.starts_with("HTTP/1.") && is_digit(line[7]) && line[8] == ' ' &&
                      is_digit(line[9]) && is_digit(line[10]) && is_digit(line[11]) &&
                      (line.size() == 12 || line[12] == ' ');
    if (!http || line[9] == '0' || line[9] > '5')
        return fail(client_errc::proxy_failed, "proxy " + proxy_name_ + " did not answer CONNECT " + target_name_ +
                                                   " with an HTTP/1.x status line (got \"" + printable(line) + "\")");
    const auto status = static_cast<unsigned>((line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0'));
    const auto reason = line.size() > 13 ? printable(trim(line.substr(13))) : std::string();
    const std::string status_text = std::to_string(status) + (reason.empty() ? "" : " " + reason);

    if (status >= 100 && status <= 199 && status != 101) {
        buffer_.erase(0, size);  // interim: skip it, the final answer follows
        return state_;
    }
    status_ = status;
    const auto leftover = buffer_.size() - size;
    buffer_.clear();
    if (status >= 200 && status <= 299) {
        if (leftover != 0)
            return fail(client_errc::proxy_failed, "proxy " + proxy_name_ + " sent " + std::to_string(leftover) +
                                                       " bytes after its " + status_text + " answer to CONNECT " +
                                                       target_name_ +
                                                       ", before the TLS handshake began: refused (not TLS)");
        state_ = open;
        return state_;
    }
    if (status >= 500)
        return fail(client_errc::proxy_failed,
                    "proxy " + proxy_name_ + " could not open a tunnel to " + target_name_ + ": " + status_text);

    std::string what = "proxy " + proxy_name_ + " refused CONNECT " + target_name_ + ": " + status_text;
    if (status == 407 || status == 401) {
        // Which schemes it asks for: only Basic can be answered.
        std::vector<std::string> schemes;
        bool basic = false;
        for (auto rest = header.substr(line_end + 2); !rest.empty();) {
            const auto eol = rest.find("\r\n");
            const auto field = rest.substr(0, eol);
            rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 2);
            const auto colon = field.find(':');
            if (colon == std::string_view::npos) continue;
            const auto name = trim(field.substr(0, colon));
            if (!iequal(name, "Proxy-Authenticate") && !iequal(name, "WWW-Authenticate")) continue;
            const auto value = trim(field.substr(colon + 1));
            const auto scheme = value.substr(0, value.find(' '));
            basic = basic || iequal(scheme, "Basic");
            schemes.push_back(printable(scheme, 20));
        }
        what += sent_credentials_ ? "; the user and password in the proxy URL were not accepted"
                                  : "; it needs credentials: put them in the proxy URL, http://user:password@host:port";
        if (!schemes.empty() && !basic) {
            what += "; it asks for";
            for (const auto& s : schemes) what += " " + s;
            what += ", and only Basic is supported";
        }
    }
    what += "; not retried";
    return fail(client_errc::proxy_rejected, std::move(what));
}

proxy_handshake::state_t proxy_handshake::on_closed() {
    if (state_ != need_more) return state_;
    return fail(client_errc::proxy_failed,
                "proxy " + proxy_name_ + " closed the connection before answering CONNECT " + target_name_);
}

}  // namespace cbs::detail
