// Proxy URLs, NO_PROXY matching and the choice of a proxy from the
// environment (see proxy.hpp). Pure: no I/O, no DNS.
#include <cbs/endpoint.hpp>
#include <cbs/proxy.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <utility>

namespace cbs {

namespace {

bool is_ctl(unsigned char c) {
    return c < 0x20 || c == 0x7f;
}

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequal(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// Decodes %XX escapes; false on a truncated or non-hex escape.
bool percent_decode(std::string_view in, std::string& out) {
    out.clear();
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out += in[i];
            continue;
        }
        if (i + 2 >= in.size()) return false;
        const int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
        if (hi < 0 || lo < 0) return false;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return true;
}

/// A decimal port in 1..65535.
bool parse_port(std::string_view text, std::uint16_t& port) {
    unsigned value = 0;
    const auto* end = text.data() + text.size();
    auto [p, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc{} || p != end || value == 0 || value > 65535) return false;
    port = static_cast<std::uint16_t>(value);
    return true;
}

/// An address in network byte order: 4 bytes (IPv4) or 16 (IPv6).
struct ip_bytes {
    std::array<unsigned char, 16> b{};
    std::size_t len = 0;
};

bool parse_ip(std::string_view text, ip_bytes& out) {
    if (text.empty() || text.size() >= 64) return false;
    char buf[64];
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    if (::inet_pton(AF_INET, buf, out.b.data()) == 1) {
        out.len = 4;
        return true;
    }
    if (::inet_pton(AF_INET6, buf, out.b.data()) == 1) {
        out.len = 16;
        return true;
    }
    return false;
}

/// The first `bits` bits of a and b agree (bits 0: the whole address, as curl).
bool cidr_match(const ip_bytes& a, const ip_bytes& b, unsigned bits) {
    if (a.len != b.len) return false;
    const unsigned total = static_cast<unsigned>(a.len) * 8;
    if (bits == 0) bits = total;
    if (bits > total) return false;
    const unsigned whole = bits / 8, rest = bits % 8;
    if (!std::equal(a.b.begin(), a.b.begin() + whole, b.b.begin())) return false;
    if (rest == 0) return true;
    const auto mask = static_cast<unsigned char>(0xffu << (8 - rest));
    return (a.b[whole] & mask) == (b.b[whole] & mask);
}

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_';
}

/// One NO_PROXY entry against a host (already classified).
bool entry_matches(std::string_view entry, std::string_view host, bool host_is_ip, const ip_bytes& host_ip,
                   std::uint16_t port) {
    // Split off a port: "[v6]:port", "name:port", "v4:port". A bare IPv6
    // entry has several colons and no port.
    std::string_view addr = entry;
    std::string_view port_text;
    if (addr.front() == '[') {
        const auto close = addr.find(']');
        if (close == std::string_view::npos) return false;
        const auto after = addr.substr(close + 1);
        addr = addr.substr(1, close - 1);
        if (!after.empty()) {
            if (after.front() != ':') return false;
            port_text = after.substr(1);
        }
    } else if (std::count(addr.begin(), addr.end(), ':') == 1) {
        const auto colon = addr.find(':');
        port_text = addr.substr(colon + 1);
        addr = addr.substr(0, colon);
    }
    if (!port_text.empty() || entry.back() == ':') {
        std::uint16_t want = 0;
        if (!parse_port(port_text, want) || want != port) return false;
    }
    if (addr == "*") return true;
    if (addr.empty()) return false;

    if (host_is_ip) {
        unsigned bits = 0;
        if (const auto slash = addr.find('/'); slash != std::string_view::npos) {
            const auto b = addr.substr(slash + 1);
            auto [p, ec] = std::from_chars(b.data(), b.data() + b.size(), bits);
            if (b.empty() || ec != std::errc{} || p != b.data() + b.size()) return false;
            addr = addr.substr(0, slash);
        }
        ip_bytes want;
        return parse_ip(addr, want) && cidr_match(host_ip, want, bits);
    }
    // A name: itself or a subdomain; leading and trailing dots ignored.
    if (addr.back() == '.') addr.remove_suffix(1);
    if (!addr.empty() && addr.front() == '.') addr.remove_prefix(1);
    if (addr.empty()) return false;
    if (addr.size() == host.size()) return iequal(addr, host);
    if (addr.size() < host.size())
        return host[host.size() - addr.size() - 1] == '.' && iequal(addr, host.substr(host.size() - addr.size()));
    return false;
}

const char* system_getenv(const char* name) {
    return std::getenv(name);  // NOLINT(concurrency-mt-unsafe): documented (credentials.hpp)
}

/// The first of `names` set to a non-empty value: {name, value}.
std::pair<std::string, std::string> first_set(const getenv_function& getenv, std::initializer_list<const char*> names) {
    for (const char* name : names) {
        const char* v = getenv ? getenv(name) : system_getenv(name);
        if (v && *v) return {name, v};
    }
    return {};
}

}  // namespace

std::string proxy_url::host_port() const {
    std::string out;
    const bool v6 = host.find(':') != std::string::npos;
    if (v6) out += '[';
    out += host;
    if (v6) out += ']';
    out += ':';
    out += std::to_string(port);
    return out;
}

std::string redact_proxy_url(std::string_view url) {
    const auto sep = url.find("://");
    const std::size_t start = sep == std::string_view::npos ? 0 : sep + 3;
    const auto at = url.rfind('@');
    if (at == std::string_view::npos || at < start) return std::string(url);
    const auto colon = url.find(':', start);
    if (colon == std::string_view::npos || colon > at) return std::string(url);  // a user alone is no secret
    std::string out(url.substr(0, colon));
    out += ":***";
    out += url.substr(at);
    return out;
}

bool parse_proxy_url(std::string_view url, proxy_url& out, std::string& why) {
    const std::string shown = "proxy URL '" + redact_proxy_url(url) + "'";
    std::string_view rest = url;
    if (const auto sep = url.find("://"); sep != std::string_view::npos) {
        const auto scheme = url.substr(0, sep);
        if (iequal(scheme, "https")) {
            why = shown +
                  ": https:// proxies (TLS to the proxy) are not supported; use http:// (the API session is TLS "
                  "end to end through the tunnel either way)";
            return false;
        }
        if (!iequal(scheme, "http")) {
            why = shown + ": scheme '" + std::string(scheme) + "' is not supported (only http:// proxies)";
            return false;
        }
        rest = url.substr(sep + 3);
    }
    proxy_url p;
    if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
        const auto userinfo = rest.substr(0, at);
        rest = rest.substr(at + 1);
        const auto colon = userinfo.find(':');
        const auto user = userinfo.substr(0, colon);
        const auto pass = colon == std::string_view::npos ? std::string_view{} : userinfo.substr(colon + 1);
        if (!percent_decode(user, p.user) || !percent_decode(pass, p.password)) {
            why = shown + ": the user or password has a bad %-escape";
            return false;
        }
        if (p.user.empty()) {
            why = shown + ": credentials without a user name";
            return false;
        }
        if (p.user.find(':') != std::string::npos) {
            why = shown + ": a ':' in the user name must be written %3A";
            return false;
        }
        if (std::any_of(p.user.begin(), p.user.end(), [](unsigned char c) { return is_ctl(c); }) ||
            std::any_of(p.password.begin(), p.password.end(), [](unsigned char c) { return is_ctl(c); })) {
            why = shown + ": the user or password contains control characters";
            return false;
        }
    }
    if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    if (rest.find_first_of("/?#") != std::string_view::npos) {
        why = shown + ": a proxy URL has no path, query or fragment (expected http://[user:pass@]host:port)";
        return false;
    }
    std::string_view host = rest, port;
    bool bracketed = false;
    if (!rest.empty() && rest.front() == '[') {
        const auto close = rest.find(']');
        if (close == std::string_view::npos || (close + 1 < rest.size() && rest[close + 1] != ':')) {
            why = shown + ": a bad [IPv6] host";
            return false;
        }
        host = rest.substr(1, close - 1);
        if (close + 1 < rest.size()) port = rest.substr(close + 2);
        bracketed = true;
    } else if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
        host = rest.substr(0, colon);
        port = rest.substr(colon + 1);
    }
    ip_bytes ignored;
    if (host.empty() || (bracketed ? !parse_ip(host, ignored) || ignored.len != 16
                                   : !std::all_of(host.begin(), host.end(), is_name_char))) {
        why = shown + ": no valid host (expected http://[user:pass@]host:port)";
        return false;
    }
    if (port.empty()) {
        why = shown + ": no port (expected http://[user:pass@]host:port; proxies have no common default port)";
        return false;
    }
    if (!parse_port(port, p.port)) {
        why = shown + ": port '" + std::string(port) + "' is not a number in 1..65535";
        return false;
    }
    p.host = std::string(host);
    out = std::move(p);
    return true;
}

bool no_proxy_matches(std::string_view no_proxy, std::string_view host, std::uint16_t port) {
    if (host.empty()) return false;
    ip_bytes host_ip;
    const bool host_is_ip = parse_ip(host, host_ip);
    if (!host_is_ip && host.back() == '.') host.remove_suffix(1);
    std::size_t i = 0;
    while (i < no_proxy.size()) {
        const auto is_sep = [](char c) { return c == ',' || c == ' ' || c == '\t'; };
        while (i < no_proxy.size() && is_sep(no_proxy[i])) ++i;
        const auto start = i;
        while (i < no_proxy.size() && !is_sep(no_proxy[i])) ++i;
        if (i > start && entry_matches(no_proxy.substr(start, i - start), host, host_is_ip, host_ip, port)) return true;
    }
    return false;
}

proxy_choice choose_proxy_from_env(std::string_view endpoint_url, const getenv_function& getenv) {
    proxy_choice c;
    auto [variable, url] = first_set(getenv, {"https_proxy", "HTTPS_PROXY"});
    if (variable.empty()) return c;
    c.variable = std::move(variable);
    auto [np_variable, np] = first_set(getenv, {"no_proxy", "NO_PROXY"});
    endpoint ep;
    std::string why;
    if (!np_variable.empty() && parse_endpoint(endpoint_url, ep, why) && no_proxy_matches(np, ep.host, ep.port)) {
        c.bypass_by = std::move(np_variable);
        return c;
    }
    c.url = std::move(url);
    return c;
}

std::string proxy_from_env(std::string_view endpoint_url, const getenv_function& getenv) {
    return choose_proxy_from_env(endpoint_url, getenv).url;
}

}  // namespace cbs
