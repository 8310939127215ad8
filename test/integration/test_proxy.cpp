// The client through a real HTTP proxy (Debian's tinyproxy on loopback) to
// the embedded emulator: CONNECT tunnels kept by the pool, NO_PROXY, proxy
// authentication (407/401), certificates still checked against the API host
// inside the tunnel, a proxy that is down, refuses the port or cannot reach
// the API. What happened is read from the proxy's log and the emulator's
// request log, not from the client's counters.
//
// tinyproxy missing: every case here fails (the fixture throws, saying to run
// scripts/deps); they never skip.
#include "support/pki.hpp"
#include "support/run_to_end.hpp"
#include "support/tinyproxy.hpp"

#include <cbs/client.hpp>
#include <cbs/emulator/emulator.hpp>
#include <cbs/proxy.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <map>

namespace asio = boost::asio;
namespace json = boost::json;
namespace emu = cbs::emu;
using namespace std::chrono_literals;

namespace {

constexpr const char* test_id = "AKIDPROXYTEST000000000000000000000000";
constexpr const char* test_key = "proxy-test-secret-key-do-not-log";
constexpr const char* proxy_password = "s3cret-proxy-pass";

emu::emulator_params emulator_params() {
    emu::emulator_params p;
    p.fleet.instances = 4;
    p.accounts = {{test_id, test_key, ""}};
    p.rate_limits.enabled = false;  // these tests count connections, not rates
    return p;
}

/// A client of `e` through `proxy` ("" = direct): no limiter, fast backoffs,
/// at most two attempts of a network class (so a retried failure shows as 2).
cbs::client_params client_for(const emu::emulator& e, std::string proxy) {
    cbs::client_params p;
    p.endpoint = e.endpoint();
    p.pool.ca_file = e.ca_file();
    p.pool.proxy = std::move(proxy);
    p.pool.connect_timeout = 5s;
    p.creds = {test_id, test_key, "", "explicit"};
    p.request_timeout = 5s;
    p.rate_limit = false;
    p.retry.network_base = p.retry.transient_base = 1ms;
    p.retry.network_cap = p.retry.transient_cap = 5ms;
    p.retry.network_max_attempts = 2;
    p.jitter_seed = 7;
    return p;
}

template <class F>
void run(asio::io_context& io, emu::emulator& e, F body) {
    cbs::test::run_to_end(
        io, [&] { e.stop(); }, std::move(body), std::chrono::seconds(60));
}

asio::awaitable<cbs::result<json::object>> describe(cbs::client& c) {
    // The body as a local: GCC 12 rejects a braced temporary with a string
    // literal inside a co_await ("array used as initializer").
    json::object body{{"Limit", 1}};
    co_return co_await c.async_call("DescribeDisks", body, cbs::as_result);
}

/// n DescribeDisks calls at once.
asio::awaitable<std::vector<cbs::result<json::object>>> describe_concurrently(cbs::client& c, std::size_t n) {
    auto ex = co_await asio::this_coro::executor;
    std::vector<cbs::result<json::object>> out(n);
    std::size_t remaining = n;
    asio::steady_timer all_done(ex, asio::steady_timer::time_point::max());
    for (std::size_t i = 0; i < n; ++i)
        asio::co_spawn(
            ex,
            [&, i]() -> asio::awaitable<void> {
                out[i] = co_await describe(c);
                if (--remaining == 0) all_done.cancel();
            },
            asio::detached);
    co_await all_done.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return out;
}

/// A fresh directory holding `pki`'s files (removed by the destructor).
struct pki_dir {
    std::string path;
    explicit pki_dir(const cbs::test::pki& pki) {
        std::string tmpl = (std::filesystem::temp_directory_path() / "cbs-proxy-pki-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
        pki.write_dir(path);
    }
    ~pki_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
    void serve_from(emu::emulator_params& p) const {
        p.cert_file = path + "/server.pem";
        p.key_file = path + "/server-key.pem";
        p.ca_file = path + "/ca.pem";
    }
};

std::string emulator_target(const emu::emulator& e) {
    return "localhost:" + std::to_string(e.port());
}

}  // namespace

TEST_CASE("proxy: calls go through CONNECT tunnels, one per pooled connection (50 calls, pool of 2)") {
    asio::io_context io;
    emu::emulator e(io.get_executor(), emulator_params());
    e.start();
    cbs::test::tinyproxy proxy({.connect_ports = {e.port()}});
    auto p = client_for(e, proxy.url());
    p.pool.max_size = 2;
    cbs::client c(io.get_executor(), p);
    run(io, e, [&]() -> asio::awaitable<void> {
        auto rs = co_await describe_concurrently(c, 50);
        for (const auto& r : rs) REQUIRE_MESSAGE(!r.ec, r.diag.to_string(r.ec));
        // Sequential calls afterwards reuse the same two tunnels.
        for (int i = 0; i < 5; ++i) {
            auto r = co_await describe(c);
            REQUIRE_MESSAGE(!r.ec, r.diag.to_string(r.ec));
        }
    });
    // The proxy saw exactly two tunnels asked for, both to the API host
    // (not resolved by the client), and opened both.
    const auto connects = proxy.connect_requests();
    CHECK(connects == std::vector<std::string>{emulator_target(e), emulator_target(e)});
    CHECK(proxy.tunnels_established() == 2);
    CHECK(e.request_log().size() == 55);
}

TEST_CASE("proxy: NO_PROXY exempts the endpoint (the proxy sees nothing); without a match the proxy is used") {
    asio::io_context io;
    emu::emulator e(io.get_executor(), emulator_params());
    e.start();
    cbs::test::tinyproxy proxy({.connect_ports = {e.port()}});
    std::map<std::string, std::string> env{{"HTTPS_PROXY", proxy.url()}, {"NO_PROXY", "example.com, .localhost"}};
    const cbs::getenv_function getenv = [&](const char* name) -> const char* {
        auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
    };

    const auto bypassed = cbs::choose_proxy_from_env(e.endpoint(), getenv);
    CHECK(bypassed.url.empty());
    CHECK(bypassed.variable == "HTTPS_PROXY");
    CHECK(bypassed.bypass_by == "NO_PROXY");
    cbs::client direct(io.get_executor(), client_for(e, bypassed.url));

    env["NO_PROXY"] = "example.com,localhost:1";  // another host, and localhost on another port
    const auto proxied = cbs::choose_proxy_from_env(e.endpoint(), getenv);
    CHECK(proxied.url == proxy.url());
    cbs::client through(io.get_executor(), client_for(e, proxied.url));

    std::size_t after_direct = 99;
    run(io, e, [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 3; ++i) {
            auto r = co_await describe(direct);
            REQUIRE_MESSAGE(!r.ec, r.diag.to_string(r.ec));
        }
        after_direct = proxy.connect_requests().size();
        auto r = co_await describe(through);
        REQUIRE_MESSAGE(!r.ec, r.diag.to_string(r.ec));
    });
    CHECK(after_direct == 0);
    CHECK(proxy.connect_requests() == std::vector<std::string>{emulator_target(e)});
    CHECK(e.request_log().size() == 4);
}

TEST_CASE("proxy: BasicAuth: no credentials is a clear 407 error, wrong ones too, right ones work") {
    asio::io_context io;
    emu::emulator e(io.get_executor(), emulator_params());
    e.start();
    cbs::test::tinyproxy proxy({.connect_ports = {e.port()}, .user = "alice", .password = proxy_password});
    const std::string proxy_name = "127.0.0.1:" + std::to_string(proxy.port());
    cbs::client anonymous(io.get_executor(), client_for(e, proxy.url()));
    cbs::client wrong(io.get_executor(), client_for(e, proxy.url_with("alice", "wrong-pass-123")));
    cbs::client right(io.get_executor(), client_for(e, proxy.url_with("alice", proxy_password)));
    run(io, e, [&]() -> asio::awaitable<void> {
        auto r = co_await describe(anonymous);
        CHECK(r.ec == cbs::client_errc::proxy_rejected);
        CHECK(r.diag.attempts == 1);  // not retried: the next attempt would meet the same refusal
        const auto text = r.diag.to_string(r.ec);
        INFO(text);
        CHECK(text.find("proxy " + proxy_name) != std::string::npos);
        CHECK(text.find("407") != std::string::npos);
        CHECK(text.find("needs credentials") != std::string::npos);

        auto w = co_await describe(wrong);
        CHECK(w.ec == cbs::client_errc::proxy_rejected);
        CHECK(w.diag.attempts == 1);
        const auto wtext = w.diag.to_string(w.ec);
        INFO(wtext);
        CHECK(wtext.find("proxy " + proxy_name) != std::string::npos);
        CHECK(wtext.find("were not accepted") != std::string::npos);  // tinyproxy answers 401 here
        CHECK(wtext.find("wrong-pass-123") == std::string::npos);

        auto ok = co_await describe(right);
        REQUIRE_MESSAGE(!ok.ec, ok.diag.to_string(ok.ec));
        CHECK(ok.diag.to_string(ok.ec).find(proxy_password) == std::string::npos);
    });
    // One CONNECT per client (nothing retried), and only the last reached the API.
    CHECK(proxy.connect_requests().size() == 3);
    CHECK(proxy.tunnels_established() == 1);
    CHECK(e.request_log().size() == 1);
}

TEST_CASE("proxy: a certificate the client does not trust is refused inside the tunnel") {
    asio::io_context io;
    emu::emulator e(io.get_executor(), emulator_params());
    e.start();
    cbs::test::tinyproxy proxy({.connect_ports = {e.port()}});
    auto p = client_for(e, proxy.url());
    p.pool.ca_file = cbs::test::other_ca_pki().write_ca_file();  // not the emulator's CA
    cbs::client c(io.get_executor(), p);
    run(io, e, [&]() -> asio::awaitable<void> {
        auto r = co_await describe(c);
        CHECK(r.ec);
        CHECK(r.diag.attempts == 1);  // a permanent TLS failure: not retried
        const auto text = r.diag.to_string(r.ec);
        INFO(text);
        CHECK(text.find("TLS handshake with " + emulator_target(e) + " through proxy 127.0.0.1:") != std::string::npos);
        CHECK(text.find("certificate verify failed") != std::string::npos);
    });
    CHECK(proxy.connect_requests().size() == 1);  // the tunnel opened; TLS inside it refused
    CHECK(e.request_log().empty());
}

TEST_CASE("proxy: the certificate is checked against the API host, not the proxy") {
    SUBCASE("a certificate for another host name is refused (hostname mismatch)") {
        pki_dir certs(cbs::test::other_host_pki());  // the test CA, but only for other.example
        asio::io_context io;
        auto ep = emulator_params();
        certs.serve_from(ep);
        emu::emulator e(io.get_executor(), ep);
        e.start();
        cbs::test::tinyproxy proxy({.connect_ports = {e.port()}});
        cbs::client c(io.get_executor(), client_for(e, proxy.url()));
        run(io, e, [&]() -> asio::awaitable<void> {
            auto r = co_await describe(c);
            CHECK(r.ec);
            CHECK(r.diag.attempts == 1);
            INFO(r.diag.to_string(r.ec));
            CHECK(r.diag.to_string(r.ec).find("hostname mismatch") != std::string::npos);
        });
        CHECK(proxy.connect_requests().size() == 1);
        CHECK(e.request_log().empty());
    }
    SUBCASE("a certificate for localhost only works through the proxy at 127.0.0.1") {
        // Checked against the proxy's address (127.0.0.1) this would fail.
        pki_dir certs(cbs::test::default_pki().issue({"localhost"}));
        asio::io_context io;
        auto ep = emulator_params();
        certs.serve_from(ep);
        emu::emulator e(io.get_executor(), ep);
        e.start();
        cbs::test::tinyproxy proxy({.connect_ports = {e.port()}});
        cbs::client c(io.get_executor(), client_for(e, proxy.url()));
        run(io, e, [&]() -> asio::awaitable<void> {
            auto r = co_await describe(c);
            REQUIRE_MESSAGE(!r.ec, r.diag.to_string(r.ec));
        });
        CHECK(proxy.connect_requests().size() == 1);
        CHECK(e.request_log().size() == 1);
    }
}

TEST_CASE("proxy: a proxy that is not listening is a connect error naming it, retried like one") {
    asio::io_context io;
    emu::emulator e(io.get_executor(), emulator_params());
    e.start();
    // Bound but not listening: connections to it are refused, and nobody
    // else can take the port meanwhile.
    asio::ip::tcp::socket hole(io);
    hole.open(asio::ip::tcp::v4());
    hole.bind({asio::ip::make_address("127.0.0.1"), 0});
    const auto port = hole.local_endpoint().port();
    cbs::client c(io.get_executor(), client_for(e, "http://127.0.0.1:" + std::to_string(port)));
    run(io, e, [&]() -> asio::awaitable<void> {
        auto r = co_await describe(c);
        CHECK(r.ec == boost::system::errc::connection_refused);
        CHECK(r.diag.attempts == 2);  // network_before_send: retried up to network_max_attempts
        INFO(r.diag.to_string(r.ec));
        CHECK(r.diag.to_string(r.ec).find("connecting to proxy 127.0.0.1:" + std::to_string(port)) !=
              std::string::npos);
    });
    CHECK(e.request_log().empty());
}

TEST_CASE("proxy: a CONNECT to a port the proxy does not allow is refused (403), not retried") {
    asio::io_context io;
    emu::emulator e(io.get_executor(), emulator_params());
    e.start();
    cbs::test::tinyproxy proxy({.connect_ports = {443}});
    cbs::client c(io.get_executor(), client_for(e, proxy.url()));
    run(io, e, [&]() -> asio::awaitable<void> {
        auto r = co_await describe(c);
        CHECK(r.ec == cbs::client_errc::proxy_rejected);
        CHECK(r.diag.attempts == 1);
        INFO(r.diag.to_string(r.ec));
        CHECK(r.diag.to_string(r.ec).find("refused CONNECT " + emulator_target(e) + ": 403") != std::string::npos);
    });
    CHECK(proxy.connect_requests().size() == 1);
    CHECK(e.request_log().empty());
}

TEST_CASE("proxy: a proxy that cannot reach the API host answers 5xx: proxy_failed, retried") {
    asio::io_context io;
    emu::emulator e(io.get_executor(), emulator_params());
    e.start();
    asio::ip::tcp::socket hole(io);  // the API port: bound, not listening
    hole.open(asio::ip::tcp::v4());
    hole.bind({asio::ip::make_address("127.0.0.1"), 0});
    const auto dead_port = hole.local_endpoint().port();
    cbs::test::tinyproxy proxy;
    auto p = client_for(e, proxy.url());
    p.endpoint = "https://127.0.0.1:" + std::to_string(dead_port);
    cbs::client c(io.get_executor(), p);
    run(io, e, [&]() -> asio::awaitable<void> {
        auto r = co_await describe(c);
        CHECK(r.ec == cbs::client_errc::proxy_failed);
        CHECK(r.diag.attempts == 2);
        INFO(r.diag.to_string(r.ec));
        CHECK(r.diag.to_string(r.ec).find("could not open a tunnel to 127.0.0.1:" + std::to_string(dead_port) +
                                          ": 5") != std::string::npos);
    });
    CHECK(proxy.connect_requests().size() == 2);
    CHECK(proxy.tunnels_established() == 0);
}

TEST_CASE("proxy: the client's constructor refuses a bad proxy URL, naming the field and never the password") {
    asio::io_context io;
    cbs::client_params p;
    p.creds = {test_id, test_key, "", "explicit"};
    for (std::string url : {"https://alice:pw-one@proxy.example:3128", "http://alice:pw-two@proxy.example",
                            "socks5://alice:pw-three@proxy.example:1080", "http://alice:pw-four@:3128"}) {
        CAPTURE(url);
        p.pool.proxy = url;
        try {
            cbs::client c(io.get_executor(), p);
            FAIL("accepted " << url);
        } catch (const cbs::error& err) {
            CHECK(err.code() == cbs::client_errc::invalid_config);
            const auto text = err.diag().to_string(err.code());
            CHECK(text.find("pool.proxy") != std::string::npos);
            CHECK(text.find("alice:***@") != std::string::npos);
            CHECK(text.find("pw-") == std::string::npos);
        }
    }
}
