// Proxies without I/O: proxy URLs, NO_PROXY matching, the choice from the
// environment, the CONNECT handshake's request and answers, the error
// classes of its errors; and the endpoint choice.
#include <cbs/detail/proxy_connect.hpp>
#include <cbs/endpoint.hpp>
#include <cbs/proxy.hpp>
#include <cbs/retry_policy.hpp>

#include <doctest/doctest.h>

#include <map>

using cbs::detail::proxy_handshake;

namespace {

cbs::proxy_url parsed(std::string_view url) {
    cbs::proxy_url p;
    std::string why;
    REQUIRE_MESSAGE(cbs::parse_proxy_url(url, p, why), why);
    return p;
}

cbs::endpoint api(std::string host = "cbs.tencentcloudapi.com", std::uint16_t port = 443) {
    cbs::endpoint ep;
    ep.host = std::move(host);
    ep.port = port;
    return ep;
}

}  // namespace

TEST_CASE("proxy URL: accepted forms") {
    auto p = parsed("http://127.0.0.1:3128");
    CHECK(p.host == "127.0.0.1");
    CHECK(p.port == 3128);
    CHECK(!p.has_credentials());
    CHECK(p.host_port() == "127.0.0.1:3128");

    p = parsed("http://alice:s3cret@proxy.corp.example:8080/");
    CHECK(p.host == "proxy.corp.example");
    CHECK(p.port == 8080);
    CHECK(p.user == "alice");
    CHECK(p.password == "s3cret");
    CHECK(p.host_port() == "proxy.corp.example:8080");

    CHECK(parsed("proxy.corp:3128").host == "proxy.corp");  // no scheme: http, as curl and Go
    CHECK(parsed("HTTP://proxy.corp:3128").port == 3128);
    p = parsed("http://[::1]:3128");
    CHECK(p.host == "::1");
    CHECK(p.host_port() == "[::1]:3128");

    p = parsed("http://al%40ice:p%3Ass%2Fw%25@h:1");  // %-escapes decoded
    CHECK(p.user == "al@ice");
    CHECK(p.password == "p:ss/w%");
    p = parsed("http://u:p@ss@h:1");  // an unescaped '@' in the password: the last '@' ends it
    CHECK(p.password == "p@ss");
    CHECK(p.host == "h");
    p = parsed("http://bob@h:1");  // a user without a password
    CHECK(p.user == "bob");
    CHECK(p.password.empty());
}

TEST_CASE("proxy URL: refused forms say why, never showing the password") {
    const std::pair<const char*, const char*> cases[] = {
        {"https://u:pw-1@h:3128", "https:// proxies"},
        {"socks5://u:pw-2@h:1080", "scheme 'socks5'"},
        {"http://u:pw-3@h", "no port"},
        {"http://u:pw-4@h:", "no port"},
        {"http://u:pw-5@h:0", "1..65535"},
        {"http://u:pw-6@h:70000", "1..65535"},
        {"http://u:pw-7@h:31x", "1..65535"},
        {"http://u:pw-8@:3128", "no valid host"},
        {"http://u:pw-9@h:3128/path", "no path"},
        {"http://u:pw-10@h:3128?q=1", "no path"},
        {"http://u:pw-11%zz@h:3128", "bad %-escape"},
        {"http://u:pw-12%4@h:3128", "bad %-escape"},
        {"http://:pw-13@h:3128", "without a user"},
        {"http://u%3Ax:pw-14@h:3128", "%3A"},
        {"http://u:pw-15%0d%0aX:%20y@h:3128", "control characters"},
        {"http://u:pw-16@[::1:3128", "IPv6"},
        {"http://u:pw-17@[1.2.3.4]:3128", "no valid host"},
        {"http://u:pw-18@pro xy:3128", "no valid host"},
        {"", "no valid host"},
    };
    for (const auto& [url, fragment] : cases) {
        CAPTURE(url);
        cbs::proxy_url p;
        std::string why;
        CHECK(!cbs::parse_proxy_url(url, p, why));
        CHECK(why.find(fragment) != std::string::npos);
        CHECK(why.find("pw-") == std::string::npos);
        INFO(why);
    }
}

TEST_CASE("proxy URL: redaction hides the password only") {
    CHECK(cbs::redact_proxy_url("http://alice:s3cret@h:3128") == "http://alice:***@h:3128");
    CHECK(cbs::redact_proxy_url("alice:s3cret@h:3128") == "alice:***@h:3128");
    CHECK(cbs::redact_proxy_url("http://u:p@ss@h:1") == "http://u:***@h:1");
    CHECK(cbs::redact_proxy_url("http://bob@h:1") == "http://bob@h:1");
    CHECK(cbs::redact_proxy_url("http://h:3128") == "http://h:3128");
    CHECK(cbs::redact_proxy_url("http://u:pw/x@h:1") == "http://u:***@h:1");
}

TEST_CASE("NO_PROXY matching follows curl, plus ports and '*' anywhere") {
    struct row {
        const char* list;
        const char* host;
        std::uint16_t port;
        bool match;
    };
    const row rows[] = {
        {"", "cbs.tencentcloudapi.com", 443, false},
        {"*", "anything.example", 443, true},
        {"example.com,*", "anything.example", 443, true},  // curl: only a lone '*'
        {"tencentcloudapi.com", "cbs.tencentcloudapi.com", 443, true},
        {".tencentcloudapi.com", "cbs.tencentcloudapi.com", 443, true},
        {".tencentcloudapi.com", "tencentcloudapi.com", 443, true},
        {"tencentcloudapi.com.", "cbs.tencentcloudapi.com.", 443, true},  // trailing dots ignored
        {"TencentCloudAPI.com", "CBS.tencentcloudapi.COM", 443, true},
        {"cloudapi.com", "cbs.tencentcloudapi.com", 443, false},  // not a label boundary
        {"cbs.tencentcloudapi.com", "tencentcloudapi.com", 443, false},
        {"a.example, b.example ,,c.example", "c.example", 443, true},
        {"a.example b.example", "b.example", 443, true},  // blanks separate too
        {"example.com:443", "example.com", 443, true},
        {"example.com:8443", "example.com", 443, false},
        {"example.com:", "example.com", 443, false},
        {"localhost", "localhost", 8443, true},
        {"example.com", "localhost", 8443, false},  // loopback is not exempt implicitly
        {"example.com", "127.0.0.1", 8443, false},
        {"127.0.0.1", "127.0.0.1", 8443, true},
        {"127.0.0.1:8443", "127.0.0.1", 8443, true},
        {"127.0.0.1:9", "127.0.0.1", 8443, false},
        {"127.0.0.0/8", "127.1.2.3", 443, true},
        {"10.0.0.0/8", "11.0.0.1", 443, false},
        {"192.168.1.0/25", "192.168.1.127", 443, true},
        {"192.168.1.0/25", "192.168.1.128", 443, false},
        {"localhost", "127.0.0.1", 443, false},  // no DNS: a name never matches an IP host
        {"127.0.0.1", "localhost", 443, false},
        {"::1", "::1", 443, true},
        {"[::1]", "::1", 443, true},
        {"[::1]:443", "::1", 443, true},
        {"[::1]:444", "::1", 443, false},
        {"fd00::/8", "fd12::5", 443, true},
        {"fd00::/8", "fe80::1", 443, false},
        {"0:0:0:0:0:0:0:1", "::1", 443, true},  // compared as addresses, not text
        {"127.0.0.1", "::1", 443, false},
        {"127.0.0.1/40", "127.0.0.1", 443, false},  // more bits than the address has
    };
    for (const auto& r : rows) {
        CAPTURE(r.list);
        CAPTURE(r.host);
        CHECK(cbs::no_proxy_matches(r.list, r.host, r.port) == r.match);
    }
}

TEST_CASE("proxy from the environment: https_proxy first, NO_PROXY applied, as curl reads them") {
    std::map<std::string, std::string> env;
    const cbs::getenv_function getenv = [&](const char* name) -> const char* {
        auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
    };
    const std::string ep = "https://cbs.tencentcloudapi.com";

    auto c = cbs::choose_proxy_from_env(ep, getenv);
    CHECK(c.url.empty());
    CHECK(c.variable.empty());

    env["HTTPS_PROXY"] = "http://upper:3128";
    c = cbs::choose_proxy_from_env(ep, getenv);
    CHECK(c.url == "http://upper:3128");
    CHECK(c.variable == "HTTPS_PROXY");
    env["https_proxy"] = "http://lower:3128";
    c = cbs::choose_proxy_from_env(ep, getenv);
    CHECK(c.url == "http://lower:3128");
    CHECK(c.variable == "https_proxy");
    env["https_proxy"] = "";  // empty counts as unset
    CHECK(cbs::proxy_from_env(ep, getenv) == "http://upper:3128");

    env["NO_PROXY"] = ".tencentcloudapi.com";
    c = cbs::choose_proxy_from_env(ep, getenv);
    CHECK(c.url.empty());
    CHECK(c.bypass_by == "NO_PROXY");
    CHECK(c.variable == "HTTPS_PROXY");
    env["no_proxy"] = "example.com";  // the lower-case one is read first, and alone
    CHECK(cbs::proxy_from_env(ep, getenv) == "http://upper:3128");
    env["no_proxy"] = "cbs.tencentcloudapi.com:443";
    CHECK(cbs::proxy_from_env(ep, getenv).empty());
    CHECK(cbs::proxy_from_env("https://cbs.tencentcloudapi.com:8443", getenv) == "http://upper:3128");
    CHECK(cbs::proxy_from_env("not a url", getenv) == "http://upper:3128");  // the client refuses it anyway

    env.erase("HTTPS_PROXY");
    env["http_proxy"] = env["ALL_PROXY"] = "http://other:1";  // not read: the API is https only
    CHECK(cbs::proxy_from_env("https://example.org", getenv).empty());
}

TEST_CASE("CONNECT request: authority with the port always, Basic credentials") {
    CHECK(cbs::detail::base64_encode("") == "");
    CHECK(cbs::detail::base64_encode("f") == "Zg==");
    CHECK(cbs::detail::base64_encode("fo") == "Zm8=");
    CHECK(cbs::detail::base64_encode("foo") == "Zm9v");
    CHECK(cbs::detail::base64_encode("foob") == "Zm9vYg==");
    CHECK(cbs::detail::base64_encode("fooba") == "Zm9vYmE=");
    CHECK(cbs::detail::base64_encode("foobar") == "Zm9vYmFy");
    CHECK(cbs::detail::base64_encode("Aladdin:open sesame") == "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");  // RFC 7617

    CHECK(cbs::detail::build_connect_request(parsed("http://p:3128"), api()) ==
          "CONNECT cbs.tencentcloudapi.com:443 HTTP/1.1\r\nHost: cbs.tencentcloudapi.com:443\r\n\r\n");
    CHECK(cbs::detail::build_connect_request(parsed("http://Aladdin:open%20sesame@p:3128"), api("::1", 8443)) ==
          "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n"
          "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n");
}

TEST_CASE("CONNECT answer: a 2xx opens the tunnel, however the bytes arrive") {
    const auto proxy = parsed("http://10.0.0.1:3128");
    {
        proxy_handshake hs(proxy, api());
        CHECK(hs.on_received("HTTP/1.1 200 Connection established\r\n\r\n") == proxy_handshake::open);
        CHECK(hs.status() == 200);
        CHECK(!hs.error());
    }
    {
        proxy_handshake hs(proxy, api());
        const std::string answer = "HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy/1.11.1\r\n\r\n";
        for (std::size_t i = 0; i + 1 < answer.size(); ++i)
            REQUIRE(hs.on_received(answer.substr(i, 1)) == proxy_handshake::need_more);
        CHECK(hs.on_received(answer.substr(answer.size() - 1)) == proxy_handshake::open);
    }
    {
        proxy_handshake hs(proxy, api());  // interim answers are skipped
        CHECK(hs.on_received("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 2") == proxy_handshake::need_more);
        CHECK(hs.on_received("04 No Content\r\n\r\n") == proxy_handshake::open);
        CHECK(hs.status() == 204);
    }
}

TEST_CASE("CONNECT answer: bytes after a 2xx header are refused (they cannot be TLS)") {
    proxy_handshake hs(parsed("http://10.0.0.1:3128"), api());
    CHECK(hs.on_received("HTTP/1.1 200 OK\r\n\r\n\x16\x03") == proxy_handshake::failed);
    CHECK(hs.error() == cbs::client_errc::proxy_failed);
    CHECK(hs.message().find("sent 2 bytes after its 200 OK answer") != std::string::npos);
}

TEST_CASE("CONNECT answer: 407 and 401 name the proxy, the target and the status, never the password") {
    {
        proxy_handshake hs(parsed("http://10.0.0.1:3128"), api());
        CHECK(hs.on_received("HTTP/1.0 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic "
                             "realm=\"Tinyproxy\"\r\nConnection: close\r\n\r\n<html>...") == proxy_handshake::failed);
        CHECK(hs.status() == 407);
        CHECK(hs.error() == cbs::client_errc::proxy_rejected);
        CHECK(hs.message() ==
              "proxy 10.0.0.1:3128 refused CONNECT cbs.tencentcloudapi.com:443: 407 Proxy Authentication Required; it "
              "needs credentials: put them in the proxy URL, http://user:password@host:port; not retried");
    }
    {
        proxy_handshake hs(parsed("http://alice:pw-secret@10.0.0.1:3128"), api());
        CHECK(hs.on_received("HTTP/1.1 407 Proxy Authentication Required\r\nproxy-authenticate: Negotiate\r\n"
                             "Proxy-Authenticate: NTLM\r\n\r\n") == proxy_handshake::failed);
        CHECK(hs.error() == cbs::client_errc::proxy_rejected);
        CHECK(hs.message().find("were not accepted") != std::string::npos);
        CHECK(hs.message().find("it asks for Negotiate NTLM, and only Basic is supported") != std::string::npos);
        CHECK(hs.message().find("pw-secret") == std::string::npos);
        CHECK(hs.request().find("pw-secret") == std::string::npos);  // base64 on the wire, still a secret
    }
    {
        proxy_handshake hs(parsed("http://alice:pw-secret@10.0.0.1:3128"), api());
        CHECK(hs.on_received("HTTP/1.0 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"Tinyproxy\"\r\n\r\n") ==
              proxy_handshake::failed);
        CHECK(hs.error() == cbs::client_errc::proxy_rejected);
        CHECK(hs.message().find("401 Unauthorized; the user and password in the proxy URL were not accepted") !=
              std::string::npos);
    }
}

TEST_CASE("CONNECT answer: other refusals, proxy-side failures, garbage, size and early close") {
    const auto proxy = parsed("http://10.0.0.1:3128");
    struct row {
        std::string answer;
        cbs::client_errc e;
        const char* fragment;
    };
    const row rows[] = {
        {"HTTP/1.0 403 Access violation\r\n\r\n", cbs::client_errc::proxy_rejected,
         "refused CONNECT cbs.tencentcloudapi.com:443: 403 Access violation; not retried"},
        {"HTTP/1.1 302 Found\r\nLocation: http://login\r\n\r\n", cbs::client_errc::proxy_rejected, "302 Found"},
        {"HTTP/1.1 101 Switching Protocols\r\n\r\n", cbs::client_errc::proxy_rejected, "101"},
        {"HTTP/1.0 500 Unable to connect\r\n\r\n", cbs::client_errc::proxy_failed,
         "proxy 10.0.0.1:3128 could not open a tunnel to cbs.tencentcloudapi.com:443: 500 Unable to connect"},
        {"HTTP/1.1 502 Bad Gateway\r\n\r\n", cbs::client_errc::proxy_failed, "502 Bad Gateway"},
        {"HTTP/1.1 504\r\n\r\n", cbs::client_errc::proxy_failed, ": 504"},
        {"SSH-2.0-OpenSSH_9.2\r\n\r\n", cbs::client_errc::proxy_failed, "status line (got \"SSH-2.0-OpenSSH_9.2\")"},
        {"HTTP/1.1 2000 OK\r\n\r\n", cbs::client_errc::proxy_failed, "status line"},
        {"HTTP/1.1 600 Odd\r\n\r\n", cbs::client_errc::proxy_failed, "status line"},
        {"HTTP/2 200\r\n\r\n", cbs::client_errc::proxy_failed, "status line"},
        {"HTTP/1.1 200 OK\r\n" + std::string(proxy_handshake::default_max_header, 'x'), cbs::client_errc::proxy_failed,
         "exceeds 16384 bytes"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.answer.substr(0, 40));
        proxy_handshake hs(proxy, api());
        CHECK(hs.on_received(r.answer) == proxy_handshake::failed);
        CHECK(hs.error() == r.e);
        INFO(hs.message());
        CHECK(hs.message().find(r.fragment) != std::string::npos);
        CHECK(hs.on_received("HTTP/1.1 200 OK\r\n\r\n") == proxy_handshake::failed);  // stays failed
    }
    proxy_handshake hs(proxy, api());
    CHECK(hs.on_received("HTTP/1.1 200 Conn") == proxy_handshake::need_more);
    CHECK(hs.on_closed() == proxy_handshake::failed);
    CHECK(hs.error() == cbs::client_errc::proxy_failed);
    CHECK(hs.message() ==
          "proxy 10.0.0.1:3128 closed the connection before answering CONNECT "
          "cbs.tencentcloudapi.com:443");
}

TEST_CASE("proxy errors: rejected is fatal, failed is retried like a failed connect") {
    using cbs::error_class;
    for (bool written : {false, true}) {
        CHECK(cbs::classify(make_error_code(cbs::client_errc::proxy_rejected), written) == error_class::fatal);
        CHECK(cbs::classify(make_error_code(cbs::client_errc::proxy_failed), written) ==
              error_class::network_before_send);
    }
    CHECK(make_error_code(cbs::client_errc::proxy_rejected).message() == "the proxy refused the tunnel to the API");
    CHECK(make_error_code(cbs::client_errc::proxy_failed).message() == "the proxy could not open a tunnel to the API");
}

TEST_CASE("endpoint choice: root, international, regional, as the official SDKs name them") {
    std::string url, why;
    REQUIRE(cbs::endpoint_url_for(cbs::endpoint_choice::root, "", url, why));
    CHECK(url == "https://cbs.tencentcloudapi.com");
    CHECK(url == cbs::default_endpoint_url);
    REQUIRE(cbs::endpoint_url_for(cbs::endpoint_choice::international, "ap-guangzhou", url, why));
    CHECK(url == "https://cbs.intl.tencentcloudapi.com");
    REQUIRE(cbs::endpoint_url_for(cbs::endpoint_choice::regional, "ap-guangzhou", url, why));
    CHECK(url == "https://cbs.ap-guangzhou.tencentcloudapi.com");
    REQUIRE(cbs::endpoint_url_for(cbs::endpoint_choice::regional, "ap-shanghai-fsi", url, why));
    CHECK(url == "https://cbs.ap-shanghai-fsi.tencentcloudapi.com");
    REQUIRE(cbs::endpoint_url_for(cbs::endpoint_choice::regional, "ap-tokyo", url, why, "cvm"));
    CHECK(url == "https://cvm.ap-tokyo.tencentcloudapi.com");
    cbs::endpoint ep;
    REQUIRE(cbs::parse_endpoint(url, ep, why));
    CHECK(ep.host == "cvm.ap-tokyo.tencentcloudapi.com");

    for (const char* bad : {"", "AP-GUANGZHOU", "ap-guangzhou.evil.example", "ap/x", "-ap", "ap guangzhou"}) {
        CAPTURE(bad);
        url = "unchanged";
        CHECK(!cbs::endpoint_url_for(cbs::endpoint_choice::regional, bad, url, why));
        CHECK(url == "unchanged");
        CHECK(why.find("is not a region name like ap-guangzhou") != std::string::npos);
    }
    CHECK(!cbs::endpoint_url_for(cbs::endpoint_choice::root, "", url, why, "cbs.evil"));
    CHECK(cbs::to_string(cbs::endpoint_choice::root) == "root");
    CHECK(cbs::to_string(cbs::endpoint_choice::international) == "international");
    CHECK(cbs::to_string(cbs::endpoint_choice::regional) == "regional");
}
