// Self-tests of the test support code (pki + scripted_server), driven by plain
// Beast clients on the same single-threaded io_context as the server.
#include "support/pki.hpp"
#include "support/scripted_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;
using namespace cbs::test;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// --- small OpenSSL helpers for the pki checks ------------------------------

struct x509_free_t {
    void operator()(X509* x) const noexcept { X509_free(x); }
};
using x509_ptr = std::unique_ptr<X509, x509_free_t>;

x509_ptr parse_cert(const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    x509_ptr cert{PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)};
    BIO_free(bio);
    return cert;
}

// True if `leaf` chains to `ca` (and is fit for TLS server use).
bool verifies_against(const std::string& leaf_pem, const std::string& ca_pem) {
    x509_ptr leaf = parse_cert(leaf_pem);
    x509_ptr ca = parse_cert(ca_pem);
    if (!leaf || !ca) return false;
    X509_STORE* store = X509_STORE_new();
    X509_STORE_add_cert(store, ca.get());
    X509_STORE_CTX* ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, leaf.get(), nullptr);
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
    const bool ok = X509_verify_cert(ctx) == 1;
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    ERR_clear_error();
    return ok;
}

bool cert_has_host(const std::string& pem, const char* host) {
    x509_ptr cert = parse_cert(pem);
    return cert && X509_check_host(cert.get(), host, 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, nullptr) == 1;
}

bool cert_has_ip(const std::string& pem, const char* ip) {
    x509_ptr cert = parse_cert(pem);
    return cert && X509_check_ip_asc(cert.get(), ip, 0) == 1;
}

// --- client helpers ---------------------------------------------------------

/// Plain Beast TLS client: trusts `trust`'s CA, SNI "localhost" and (optionally)
/// host-name verification against "localhost".
struct tls_client {
    ssl::context ctx;
    ssl::stream<beast::tcp_stream> stream;
    beast::flat_buffer buffer;

    tls_client(asio::any_io_executor ex, const pki& trust, bool verify_host = true)
        : ctx(make_client_ssl_context(trust)), stream(ex, ctx) {
        SSL_set_tlsext_host_name(stream.native_handle(), "localhost");
        if (verify_host) stream.set_verify_callback(ssl::host_name_verification("localhost"));
    }

    asio::awaitable<error_code> connect(unsigned short port) {
        auto [ec] = co_await stream.next_layer().async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                                                               use_tuple);
        if (ec) co_return ec;
        auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, use_tuple);
        co_return hec;
    }
};

http::request<http::string_body> make_request(std::string body, bool keep_alive = true) {
    http::request<http::string_body> req{http::verb::post, "/", 11};
    req.set(http::field::host, "localhost");
    req.set(http::field::content_type, "application/json; charset=utf-8");
    req.set("X-TC-Action", "CreateSnapshotGroup");
    req.set("x-tc-version", "2017-03-12");
    req.body() = std::move(body);
    req.keep_alive(keep_alive);
    req.prepare_payload();
    return req;
}

template <class Stream>
asio::awaitable<error_code> send(Stream& s, http::request<http::string_body> req) {
    auto [ec, n] = co_await http::async_write(s, req, use_tuple);
    (void)n;
    co_return ec;
}

template <class Stream>
asio::awaitable<std::pair<error_code, http::response<http::string_body>>> receive(Stream& s, beast::flat_buffer& buf) {
    http::response<http::string_body> res;
    auto [ec, n] = co_await http::async_read(s, buf, res, use_tuple);
    (void)n;
    co_return std::pair{ec, std::move(res)};
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
    asio::steady_timer timer(co_await asio::this_coro::executor, d);
    co_await timer.async_wait(use_tuple);
}

/// Polls `pred` until it holds or `limit` passes (used to let the server side
/// observe a client-side failure before the test stops it).
asio::awaitable<bool> eventually(std::function<bool()> pred, std::chrono::milliseconds limit = 2s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) co_return false;
        co_await sleep_for(5ms);
    }
    co_return true;
}

/// Runs the client coroutine and the server on one io_context; stops the
/// server when the client finishes, then requires that run() ran out of work.
void run_client(asio::io_context& ioc, scripted_server& server, std::function<asio::awaitable<void>()> client) {
    std::exception_ptr error;
    bool done = false;
    asio::co_spawn(ioc, client(), [&](std::exception_ptr e) {
        error = e;
        done = true;
        server.stop();
    });
    ioc.run_for(20s);  // safety net: a hang fails the test instead of blocking CI
    REQUIRE(done);
    CHECK(ioc.stopped());  // stopped == ran out of work, i.e. nothing leaked
    if (error) std::rethrow_exception(error);
}

}  // namespace

TEST_SUITE("scripted_server") {
    TEST_CASE("pki: CA and server certificate") {
        const pki& p = default_pki();
        CHECK(&p == &default_pki());  // cached
        REQUIRE(parse_cert(p.ca_cert_pem));
        REQUIRE(parse_cert(p.server_cert_pem));
        CHECK(p.server_key_pem.find("PRIVATE KEY") != std::string::npos);

        x509_ptr ca = parse_cert(p.ca_cert_pem);
        CHECK(X509_check_ca(ca.get()) == 1);
        CHECK((X509_get_key_usage(ca.get()) & KU_KEY_CERT_SIGN) != 0);

        CHECK(verifies_against(p.server_cert_pem, p.ca_cert_pem));
        CHECK(cert_has_host(p.server_cert_pem, "localhost"));
        CHECK(cert_has_host(p.server_cert_pem, "cbs.tencentcloudapi.com"));
        CHECK(cert_has_ip(p.server_cert_pem, "127.0.0.1"));
        CHECK(cert_has_ip(p.server_cert_pem, "::1"));
        CHECK_FALSE(cert_has_host(p.server_cert_pem, "other.example"));

        x509_ptr leaf = parse_cert(p.server_cert_pem);
        CHECK(X509_check_ca(leaf.get()) == 0);
        CHECK((X509_get_extended_key_usage(leaf.get()) & XKU_SSL_SERVER) != 0);
        // Valid now, expires within ~30 days.
        CHECK(X509_cmp_current_time(X509_get0_notBefore(leaf.get())) < 0);
        CHECK(X509_cmp_current_time(X509_get0_notAfter(leaf.get())) > 0);
        int days = 0, secs = 0;
        REQUIRE(ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(leaf.get())) == 1);
        CHECK(days >= 29);
        CHECK(days <= 30);

        SUBCASE("other CA is unrelated") {
            const pki& other = other_ca_pki();
            CHECK(other.ca_cert_pem != p.ca_cert_pem);
            CHECK_FALSE(verifies_against(p.server_cert_pem, other.ca_cert_pem));
            CHECK_FALSE(verifies_against(other.server_cert_pem, p.ca_cert_pem));
            CHECK(verifies_against(other.server_cert_pem, other.ca_cert_pem));
        }
        SUBCASE("other host: same CA, only other.example") {
            const pki& other = other_host_pki();
            CHECK(other.ca_cert_pem == p.ca_cert_pem);
            CHECK(verifies_against(other.server_cert_pem, p.ca_cert_pem));
            CHECK(cert_has_host(other.server_cert_pem, "other.example"));
            CHECK_FALSE(cert_has_host(other.server_cert_pem, "localhost"));
            CHECK_FALSE(cert_has_ip(other.server_cert_pem, "127.0.0.1"));
        }
        SUBCASE("custom SANs and bad IP literal") {
            const pki custom = pki::make({"a.example"}, {"10.1.2.3"});
            CHECK(cert_has_host(custom.server_cert_pem, "a.example"));
            CHECK(cert_has_ip(custom.server_cert_pem, "10.1.2.3"));
            CHECK_FALSE(cert_has_host(custom.server_cert_pem, "localhost"));
            CHECK_THROWS_AS(pki::make({}, {"not-an-ip"}), std::runtime_error);
        }
        SUBCASE("write_ca_file") {
            const std::string path = p.write_ca_file();
            REQUIRE(std::filesystem::exists(path));
            std::ifstream in(path, std::ios::binary);
            std::stringstream content;
            content << in.rdbuf();
            CHECK(content.str() == p.ca_cert_pem);
            CHECK(p.write_ca_file() != path);  // unique directory per call
        }
    }

    TEST_CASE("canned response helpers") {
        const auto ok = boost::json::parse(api_success_body("req-1"));
        CHECK(ok.at("Response").at("RequestId").as_string() == "req-1");
        CHECK(ok.at("Response").at("SnapshotGroupId").as_string() == "csnap-test0001");
        CHECK(boost::json::parse(api_success_body("req-2", "")).at("Response").as_object().size() == 1);

        const auto err = boost::json::parse(api_error_body("AuthFailure.SignatureFailure", "bad \"sig\"\n", "req-3"));
        CHECK(err.at("Response").at("Error").at("Code").as_string() == "AuthFailure.SignatureFailure");
        CHECK(err.at("Response").at("Error").at("Message").as_string() == "bad \"sig\"\n");
        CHECK(err.at("Response").at("RequestId").as_string() == "req-3");

        const std::string raw = http_ok_json("{}", false);
        CHECK(raw.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
        CHECK(raw.find("Content-Length: 2\r\n") != std::string::npos);
        CHECK(raw.find("Connection: close\r\n") != std::string::npos);
        CHECK(raw.ends_with("\r\n\r\n{}"));
        CHECK(http_json(429, "{}").rfind("HTTP/1.1 429 Too Many Requests\r\n", 0) == 0);
        const std::string gw = http_502_html();
        CHECK(gw.rfind("HTTP/1.1 502 Bad Gateway\r\n", 0) == 0);
        CHECK(gw.find("Content-Type: text/html") != std::string::npos);
    }

    TEST_CASE("keep-alive: serve() answers 3 requests on one connection") {
        asio::io_context ioc;
        scripted_server server(ioc.get_executor());
        CHECK(server.endpoint() == "https://localhost:" + std::to_string(server.port()));
        int counter = 0;
        server.add_connection({serve([&](const recorded_request& r) {
            ++counter;
            return http_ok_json(api_success_body("req-" + std::to_string(counter), R"("Echo":)" + r.body));
        })});

        run_client(ioc, server, [&]() -> asio::awaitable<void> {
            tls_client client(ioc.get_executor(), default_pki());
            REQUIRE(!co_await client.connect(server.port()));
            for (int i = 1; i <= 3; ++i) {
                REQUIRE(!co_await send(client.stream, make_request(std::to_string(i))));
                auto [ec, res] = co_await receive(client.stream, client.buffer);
                REQUIRE(!ec);
                CHECK(res.result_int() == 200);
                CHECK(res.keep_alive());
                const auto json = boost::json::parse(res.body());
                CHECK(json.at("Response").at("Echo").as_int64() == i);
                CHECK(json.at("Response").at("RequestId").as_string() == "req-" + std::to_string(i));
            }
            // Client closes the TCP connection: serve() sees EOF and ends.
            client.stream.next_layer().close();
            CHECK(co_await eventually([&] { return server.live_connections() == 0; }));
        });

        CHECK(server.connections_accepted() == 1);
        CHECK(server.handshakes_completed() == 1);
        REQUIRE(server.requests().size() == 3);
        for (std::size_t i = 0; i < 3; ++i) {
            const auto& r = server.requests()[i];
            CHECK(r.connection_index == 0);
            CHECK(r.method == "POST");
            CHECK(r.target == "/");
            CHECK(r.body == std::to_string(i + 1));
        }
        const auto& first = server.requests()[0];
        // Names as sent, in arrival order (Beast writes fields in insertion order).
        REQUIRE(first.headers.size() >= 4);
        CHECK(first.headers[0].first == "Host");
        CHECK(first.headers[2].first == "X-TC-Action");
        CHECK(first.headers[3].first == "x-tc-version");
        CHECK(first.header("x-tc-action") == "CreateSnapshotGroup");
        CHECK(first.header("X-TC-VERSION") == "2017-03-12");
        CHECK(first.header("Content-Length") == "1");
        CHECK(first.header("X-Missing").empty());
        CHECK_FALSE(first.has_header("X-Missing"));
    }

    TEST_CASE("reply_json then close: response, then clean end of stream") {
        asio::io_context ioc;
        scripted_server server(ioc.get_executor());
        server.add_connection({expect_request(), reply_json(api_success_body("req-9"), false), close_connection()});

        run_client(ioc, server, [&]() -> asio::awaitable<void> {
            tls_client client(ioc.get_executor(), default_pki());
            REQUIRE(!co_await client.connect(server.port()));
            REQUIRE(!co_await send(client.stream, make_request("{}")));
            auto [ec, res] = co_await receive(client.stream, client.buffer);
            REQUIRE(!ec);
            CHECK(res.result_int() == 200);
            CHECK_FALSE(res.keep_alive());
            CHECK(res[http::field::content_type] == "application/json");
            CHECK(res[http::field::content_length] == std::to_string(res.body().size()));
            CHECK(boost::json::parse(res.body()).at("Response").at("RequestId").as_string() == "req-9");

            auto [ec2, res2] = co_await receive(client.stream, client.buffer);
            // close_notify arrives first, so this is a clean EOF rather than a truncation.
            CHECK(ec2 == http::error::end_of_stream);
        });
        CHECK(server.requests().size() == 1);
    }

    TEST_CASE("reset_connection: the client gets an error") {
        asio::io_context ioc;
        scripted_server server(ioc.get_executor());
        server.add_connection({expect_request(), reset_connection()});

        run_client(ioc, server, [&]() -> asio::awaitable<void> {
            tls_client client(ioc.get_executor(), default_pki());
            REQUIRE(!co_await client.connect(server.port()));
            REQUIRE(!co_await send(client.stream, make_request("{}")));
            auto [ec, res] = co_await receive(client.stream, client.buffer);
            // Abortive: no close_notify, and on Linux the RST surfaces as ECONNRESET.
            CHECK(ec == asio::error::connection_reset);
        });
        CHECK(server.requests().size() == 1);
    }

    TEST_CASE("stall: client read timeout, then stop() leaves no work behind") {
        asio::io_context ioc;
        scripted_server server(ioc.get_executor());
        server.add_connection({expect_request(), stall()});  // stall forever (until stop)

        run_client(ioc, server, [&]() -> asio::awaitable<void> {
            tls_client client(ioc.get_executor(), default_pki());
            REQUIRE(!co_await client.connect(server.port()));
            REQUIRE(!co_await send(client.stream, make_request("{}")));
            const auto start = std::chrono::steady_clock::now();
            client.stream.next_layer().expires_after(150ms);
            auto [ec, res] = co_await receive(client.stream, client.buffer);
            CHECK(ec == beast::error::timeout);
            CHECK(std::chrono::steady_clock::now() - start >= 140ms);
            CHECK(server.live_connections() == 1);  // still stalling; run_client's stop() ends it
        });
        CHECK(server.live_connections() == 0);
    }

    TEST_CASE("stall with a duration delays the reply") {
        asio::io_context ioc;
        scripted_server server(ioc.get_executor());
        server.add_connection({expect_request(), stall(100ms), reply_json("{}")});

        run_client(ioc, server, [&]() -> asio::awaitable<void> {
            tls_client client(ioc.get_executor(), default_pki());
            REQUIRE(!co_await client.connect(server.port()));
            const auto start = std::chrono::steady_clock::now();
            REQUIRE(!co_await send(client.stream, make_request("{}")));
            auto [ec, res] = co_await receive(client.stream, client.buffer);
            REQUIRE(!ec);
            CHECK(res.body() == "{}");
            CHECK(std::chrono::steady_clock::now() - start >= 90ms);
        });
    }

    TEST_CASE("stall_handshake: client handshake timeout") {
        asio::io_context ioc;
        scripted_server server(ioc.get_executor());
        server.add_connection({stall_handshake()});

        run_client(ioc, server, [&]() -> asio::awaitable<void> {
            tls_client client(ioc.get_executor(), default_pki());
            auto [cec] = co_await client.stream.next_layer().async_connect(
                tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()), use_tuple);
            REQUIRE(!cec);
            client.stream.next_layer().expires_after(150ms);
            auto [ec] = co_await client.stream.async_handshake(ssl::stream_base::client, use_tuple);
            CHECK(ec == beast::error::timeout);
        });
        CHECK(server.connections_accepted() == 1);
        CHECK(server.handshakes_completed() == 0);
    }

    TEST_CASE("client trusting another CA refuses the handshake") {
        asio::io_context ioc;
        scripted_server server(ioc.get_executor());
        server.add_connection({expect_request(), reply_json("{}")});

        run_client(ioc, server, [&]() -> asio::awaitable<void> {
            tls_client client(ioc.get_executor(), other_ca_pki());
            const error_code ec = co_await client.connect(server.port());
            REQUIRE(ec);
            CHECK(ec.category() == asio::error::get_ssl_category());
            CHECK(ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED);
            CHECK(SSL_get_verify_result(client.stream.native_handle()) == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
            // The server sees the client's alert as a failed handshake.
            CHECK(co_await eventually([&] { return server.handshake_failures() == 1; }));
        });
        CHECK(server.requests().empty());
    }

    TEST_CASE("certificate for another host name is refused by host-name verification") {
        asio::io_context ioc;
        scripted_server::options opts;
        opts.certs = &other_host_pki();
        scripted_server server(ioc.get_executor(), opts);
        server.add_connection({expect_request(), reply_json("{}")});
        server.add_connection({expect_request(), reply_json(R"({"ok":true})")});

        run_client(ioc, server, [&]() -> asio::awaitable<void> {
            {
                tls_client client(ioc.get_executor(), default_pki(), /*verify_host=*/true);
                const error_code ec = co_await client.connect(server.port());
                REQUIRE(ec);
                CHECK(ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED);
            }
            {
                // Control: same CA without host-name verification is accepted, so
                // the failure above is the host name, not the chain.
                tls_client client(ioc.get_executor(), default_pki(), /*verify_host=*/false);
                REQUIRE(!co_await client.connect(server.port()));
                REQUIRE(!co_await send(client.stream, make_request("{}")));
                auto [ec, res] = co_await receive(client.stream, client.buffer);
                REQUIRE(!ec);
                CHECK(res.body() == R"({"ok":true})");
            }
        });
        CHECK(server.connections_accepted() == 2);
        CHECK(server.handshakes_completed() == 1);
    }

    TEST_CASE("no script left: connection is dropped; default script is reused") {
        asio::io_context ioc;
        scripted_server server(ioc.get_executor());

        SUBCASE("no default script") {
            run_client(ioc, server, [&]() -> asio::awaitable<void> {
                tls_client client(ioc.get_executor(), default_pki());
                CHECK(co_await client.connect(server.port()));
            });
            CHECK(server.connections_accepted() == 1);
            CHECK(server.handshakes_completed() == 0);
        }
        SUBCASE("queued scripts first, then the default one") {
            server.add_connection({expect_request(), reply_json(R"("first")", false)});
            server.set_default_script({expect_request(), reply_json(R"("default")", false)});
            run_client(ioc, server, [&]() -> asio::awaitable<void> {
                for (int i = 0; i < 3; ++i) {
                    tls_client client(ioc.get_executor(), default_pki());
                    REQUIRE(!co_await client.connect(server.port()));
                    REQUIRE(!co_await send(client.stream, make_request(std::to_string(i), false)));
                    auto [ec, res] = co_await receive(client.stream, client.buffer);
                    REQUIRE(!ec);
                    CHECK(res.body() == (i == 0 ? R"("first")" : R"("default")"));
                }
            });
            CHECK(server.connections_accepted() == 3);
            REQUIRE(server.requests().size() == 3);
            for (std::size_t i = 0; i < 3; ++i) {
                CHECK(server.requests()[i].connection_index == i);
                CHECK(server.requests()[i].header("Connection") == "close");
            }
        }
    }

    TEST_CASE("pipelined requests are kept in the connection buffer") {
        asio::io_context ioc;
        scripted_server server(ioc.get_executor());
        server.add_connection({expect_request(), reply_json(R"("a")"), expect_request(), reply_json(R"("b")")});

        run_client(ioc, server, [&]() -> asio::awaitable<void> {
            tls_client client(ioc.get_executor(), default_pki());
            REQUIRE(!co_await client.connect(server.port()));
            // Both requests in a single TLS write.
            std::ostringstream both;
            both << make_request("1") << make_request("2");
            const std::string bytes = both.str();
            auto [wec, n] = co_await asio::async_write(client.stream, asio::buffer(bytes), use_tuple);
            (void)n;
            REQUIRE(!wec);
            auto [ec1, r1] = co_await receive(client.stream, client.buffer);
            auto [ec2, r2] = co_await receive(client.stream, client.buffer);
            REQUIRE(!ec1);
            REQUIRE(!ec2);
            CHECK(r1.body() == R"("a")");
            CHECK(r2.body() == R"("b")");
        });
        REQUIRE(server.requests().size() == 2);
        CHECK(server.requests()[1].body == "2");
    }

    TEST_CASE("plain HTTP mode") {
        asio::io_context ioc;
        scripted_server::options opts;
        opts.tls = false;
        scripted_server server(ioc.get_executor(), opts);
        CHECK(server.endpoint() == "http://localhost:" + std::to_string(server.port()));
        CHECK(server.endpoint_ip() == "http://127.0.0.1:" + std::to_string(server.port()));
        server.add_connection({expect_request(), reply(http_502_html()), close_connection()});

        run_client(ioc, server, [&]() -> asio::awaitable<void> {
            beast::tcp_stream stream(ioc.get_executor());
            beast::flat_buffer buffer;
            auto [cec] = co_await stream.async_connect(
                tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()), use_tuple);
            REQUIRE(!cec);
            REQUIRE(!co_await send(stream, make_request("{}")));
            auto [ec, res] = co_await receive(stream, buffer);
            REQUIRE(!ec);
            CHECK(res.result_int() == 502);
            CHECK(res.body().find("502 Bad Gateway") != std::string::npos);
            auto [ec2, res2] = co_await receive(stream, buffer);
            CHECK(ec2 == http::error::end_of_stream);
        });
        CHECK(server.handshakes_completed() == 0);
        CHECK(server.requests().size() == 1);
    }

    TEST_CASE("stop() ends everything: idle acceptor, stalled and half-open connections") {
        asio::io_context ioc;

        SUBCASE("idle server") {
            scripted_server server(ioc.get_executor());
            server.stop();
            server.stop();  // idempotent
            ioc.run_for(5s);
            CHECK(ioc.stopped());
        }
        SUBCASE("destructor stops") {
            { scripted_server server(ioc.get_executor()); }
            ioc.run_for(5s);
            CHECK(ioc.stopped());
        }
        SUBCASE("stop from inside the client while the server stalls and awaits a request") {
            scripted_server server(ioc.get_executor());
            server.add_connection({stall()});
            server.add_connection({stall_handshake()});
            server.add_connection({expect_request()});
            run_client(ioc, server, [&]() -> asio::awaitable<void> {
                tls_client a(ioc.get_executor(), default_pki());
                REQUIRE(!co_await a.connect(server.port()));
                tls_client b(ioc.get_executor(), default_pki());
                auto [bec] = co_await b.stream.next_layer().async_connect(
                    tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()), use_tuple);
                REQUIRE(!bec);
                tls_client c(ioc.get_executor(), default_pki());
                REQUIRE(!co_await c.connect(server.port()));
                CHECK(co_await eventually([&] { return server.connections_accepted() == 3; }));
                CHECK(server.live_connections() == 3);

                server.stop();
                // All three connections are torn down by the server.
                auto [ec, res] = co_await receive(a.stream, a.buffer);
                CHECK(ec);
                auto [ec3, res3] = co_await receive(c.stream, c.buffer);
                CHECK(ec3);
                CHECK(co_await eventually([&] { return server.live_connections() == 0; }));
            });
        }
    }

}  // TEST_SUITE
