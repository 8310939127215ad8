// The shared limiter's URL (see shared_limiter.hpp).
#include <cbs/shared_limiter.hpp>

#include <algorithm>
#include <charconv>

namespace cbs {

std::string limiter_url::redacted() const {
    std::string out = "redis://";
    if (!user.empty() || !password.empty()) out += user + (password.empty() ? "" : ":***") + "@";
    out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
    out += ":" + std::to_string(port) + "/" + prefix;
    return out;
}

std::optional<limiter_url> parse_limiter_url(std::string_view url, std::string& error) {
    constexpr std::string_view scheme = "redis://";
    if (url.starts_with("rediss://")) {
        error =
            "rediss:// (TLS to Redis) is not available: this build's hiredis (Debian 12: 0.14) has no TLS; "
            "use redis:// to a Redis on loopback or through a TLS tunnel";
        return std::nullopt;
    }
    if (!url.starts_with(scheme)) {
        error = "the limiter URL must start with redis://";
        return std::nullopt;
    }
    std::string_view rest = url.substr(scheme.size());
    limiter_url out;
    // Split at the last '@': a password may hold '@' or '/' (nothing is
    // percent-decoded), a prefix may not hold '@'.
    if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
        const auto info = rest.substr(0, at);
        rest = rest.substr(at + 1);
        const auto colon = info.find(':');
        out.user = std::string(info.substr(0, colon));
        if (colon != std::string_view::npos) out.password = std::string(info.substr(colon + 1));
        if (out.password.empty() && colon != std::string_view::npos) {
            error = "the limiter URL has an empty password after \"" + out.user + ":\"";
            return std::nullopt;
        }
    }
    const auto slash = rest.find('/');
    std::string_view hostport = rest.substr(0, slash);
    if (slash != std::string_view::npos) {
        const auto prefix = rest.substr(slash + 1);
        if (!prefix.empty()) {
            const bool bad = std::any_of(prefix.begin(), prefix.end(), [](char c) {
                return static_cast<unsigned char>(c) <= ' ' || c == '{' || c == '}' || c == 0x7f;
            });
            if (bad) {
                error =
                    "the limiter URL's prefix \"" + std::string(prefix) + "\" has a space, control character or brace";
                return std::nullopt;
            }
            out.prefix = std::string(prefix);
        }
    }
    std::string_view port;
    if (hostport.starts_with("[")) {
        const auto close = hostport.find(']');
        if (close == std::string_view::npos) {
            error = "the limiter URL's IPv6 host has no closing ']'";
            return std::nullopt;
        }
        out.host = std::string(hostport.substr(1, close - 1));
        const auto after = hostport.substr(close + 1);
        if (!after.empty() && !after.starts_with(":")) {
            error = "the limiter URL has text after the IPv6 host";
            return std::nullopt;
        }
        if (!after.empty()) port = after.substr(1);
    } else {
        const auto colon = hostport.rfind(':');
        out.host = std::string(hostport.substr(0, colon));
        if (colon != std::string_view::npos) port = hostport.substr(colon + 1);
    }
    if (out.host.empty()) {
        error = "the limiter URL has no host (redis://HOST:PORT)";
        return std::nullopt;
    }
    if (out.host.find_first_of(" /?#@") != std::string::npos) {
        error = "the limiter URL's host \"" + out.host + "\" is not a host name";
        return std::nullopt;
    }
    if (!port.empty() || hostport.ends_with(":")) {
        unsigned v = 0;
        const auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
        if (ec != std::errc{} || p != port.data() + port.size() || v == 0 || v > 65535) {
            error = "the limiter URL's port \"" + std::string(port) + "\" is not a number from 1 to 65535";
            return std::nullopt;
        }
        out.port = static_cast<std::uint16_t>(v);
    }
    return out;
}

}  // namespace cbs
