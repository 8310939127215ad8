#include <cbs/endpoint.hpp>

#include <algorithm>
#include <charconv>

namespace cbs {

std::string endpoint::host_header() const {
    const bool ipv6 = host.find(':') != std::string::npos;
    // Appended piecewise: GCC 12 at -O3 warns falsely (-Wrestrict) on "[" + host.
    std::string h;
    if (ipv6) h += '[';
    h += host;
    if (ipv6) h += ']';
    bool default_port = (scheme == "https" && port == 443) || (scheme == "http" && port == 80);
    if (!default_port) {
        h += ':';
        h += std::to_string(port);
    }
    return h;
}

std::string endpoint::url() const {
    return scheme + "://" + host_header();
}

bool parse_endpoint(std::string_view url, endpoint& out, std::string& why) {
    endpoint ep;
    auto sep = url.find("://");
    if (sep == std::string_view::npos) {
        why = "endpoint '" + std::string(url) + "' has no scheme (expected https://host[:port])";
        return false;
    }
    ep.scheme = std::string(url.substr(0, sep));
    if (ep.scheme != "https" && ep.scheme != "http") {
        why = "endpoint scheme '" + ep.scheme + "' is not https";
        return false;
    }
    ep.port = ep.scheme == "https" ? 443 : 80;
    auto rest = url.substr(sep + 3);
    if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    if (rest.find_first_of("/?#@") != std::string_view::npos) {
        why = "endpoint '" + std::string(url) + "' must not have a path, query or user info";
        return false;
    }
    std::string_view host = rest, port;
    if (!rest.empty() && rest.front() == '[') {
        auto close = rest.find(']');
        if (close == std::string_view::npos) {
            why = "endpoint '" + std::string(url) + "' has an unclosed '['";
            return false;
        }
        host = rest.substr(1, close - 1);
        auto after = rest.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                why = "endpoint '" + std::string(url) + "' has junk after the IPv6 address";
                return false;
            }
            port = after.substr(1);
            if (port.empty()) {
                why = "endpoint '" + std::string(url) + "' has an empty port";
                return false;
            }
        }
    } else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
        host = rest.substr(0, colon);
        port = rest.substr(colon + 1);
        if (port.empty()) {
            why = "endpoint '" + std::string(url) + "' has an empty port";
            return false;
        }
    }
    if (host.empty()) {
        why = "endpoint '" + std::string(url) + "' has no host";
        return false;
    }
    if (!port.empty()) {
        unsigned value = 0;
        auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (ec != std::errc{} || p != port.data() + port.size() || value == 0 || value > 65535) {
            why = "endpoint port '" + std::string(port) + "' is not a number in 1..65535";
            return false;
        }
        ep.port = static_cast<std::uint16_t>(value);
    }
    ep.host = std::string(host);
    out = std::move(ep);
    return true;
}

std::string_view to_string(endpoint_choice c) noexcept {
    switch (c) {
        case endpoint_choice::root:
            return "root";
        case endpoint_choice::international:
            return "international";
        case endpoint_choice::regional:
            return "regional";
    }
    return "unknown";
}

bool endpoint_url_for(endpoint_choice choice, std::string_view region, std::string& url, std::string& why,
                      std::string_view service) {
    // A DNS label each: what goes into the host name cannot add a label,
    // a port or a path.
    const auto label = [](std::string_view s) {
        return !s.empty() && s.size() <= 63 && s.front() != '-' && s.back() != '-' &&
               std::all_of(s.begin(), s.end(),
                           [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
    };
    if (!label(service)) {
        why = "service '" + std::string(service) + "' is not a host name label like cbs";
        return false;
    }
    std::string host(service);
    switch (choice) {
        case endpoint_choice::root:
            break;
        case endpoint_choice::international:
            host += ".intl";
            break;
        case endpoint_choice::regional:
            if (!label(region)) {
                why = "region '" + std::string(region) +
                      "' is not a region name like ap-guangzhou (needed for the regional endpoint)";
                return false;
            }
            host += '.';
            host += region;
            break;
    }
    url = "https://" + host + ".tencentcloudapi.com";
    return true;
}

}  // namespace cbs
