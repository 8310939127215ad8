// Plain-HTTP GET for the metadata service (see detail/credential_http.hpp).
// Plain HTTP carries role credentials in clear text, so it is allowed only
// to an address that never leaves the machine or the local link.
#include <cbs/detail/bounded_resolve.hpp>
#include <cbs/detail/credential_http.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <memory>

namespace cbs::detail {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;

bool is_loopback_or_link_local(const asio::ip::address& a) noexcept {
    if (a.is_v6()) {
        const auto v6 = a.to_v6();
        if (v6.is_v4_mapped()) return is_loopback_or_link_local(asio::ip::make_address_v4(asio::ip::v4_mapped, v6));
        return v6.is_loopback() || v6.is_link_local();
    }
    const auto b = a.to_v4().to_bytes();
    return b[0] == 127 || (b[0] == 169 && b[1] == 254);
}

namespace {

/// The socket and what the deadline handler may touch: shared with the
/// handler, so one still queued after the GET ended finds nothing to do.
struct watch {
    explicit watch(const asio::any_io_executor& ex) : socket(ex) {}
    tcp::socket socket;
    std::uint64_t generation = 0;
    bool timed_out = false;
};

void arm(asio::steady_timer& timer, const std::shared_ptr<watch>& w, std::chrono::milliseconds d) {
    w->timed_out = false;
    const auto gen = ++w->generation;
    timer.expires_after(d);
    timer.async_wait([w, gen](const boost::system::error_code& ec) {
        if (ec || gen != w->generation) return;
        w->timed_out = true;
        boost::system::error_code ignored;
        w->socket.close(ignored);
    });
}

bool disarm(asio::steady_timer& timer, const std::shared_ptr<watch>& w) {
    ++w->generation;
    timer.cancel();
    return w->timed_out;
}

}  // namespace

asio::awaitable<plain_get_result> async_plain_http_get(const endpoint& ep, std::string target,
                                                       std::chrono::milliseconds connect_timeout,
                                                       std::chrono::milliseconds request_timeout, diagnostics& diag) {
    constexpr auto tuple = asio::as_tuple(asio::use_awaitable);
    plain_get_result r;
    const auto url = ep.url() + target;
    std::vector<tcp::endpoint> addresses;
    r.ec = co_await async_resolve_bounded(&system_resolve, ep.host, ep.port, connect_timeout, addresses);
    if (r.ec) {
        diag.client_message = "resolving " + ep.host + " (" + url + "): " +
                              (r.ec == client_errc::resolve_timeout
                                   ? "no answer within " + std::to_string(connect_timeout.count()) + " ms"
                                   : r.ec.message());
        co_return r;
    }
    for (const auto& a : addresses) {
        if (is_loopback_or_link_local(a.address())) continue;
        r.ec = client_errc::credentials_invalid;
        diag.client_message = "refusing plain HTTP to " + url + ": " + ep.host + " resolves to " +
                              a.address().to_string() +
                              ", not a loopback or link-local address (role credentials would cross the network "
                              "in clear text)";
        co_return r;
    }

    const auto ex = co_await asio::this_coro::executor;
    auto w = std::make_shared<watch>(ex);
    asio::steady_timer timer(ex);
    arm(timer, w, connect_timeout);
    auto [cec, connected] = co_await asio::async_connect(w->socket, addresses, tuple);
    if (disarm(timer, w)) cec = client_errc::connect_timeout;
    if (cec) {
        r.ec = cec;
        diag.client_message = "connecting to " + url + ": " + cec.message();
        co_return r;
    }

    std::string request = "GET " + target + " HTTP/1.1\r\nHost: " + ep.host_header() +
                          "\r\nAccept: */*\r\nUser-Agent: cbs-async\r\nConnection: close\r\n\r\n";
    arm(timer, w, request_timeout);
    auto [wec, written] = co_await asio::async_write(w->socket, asio::buffer(request), tuple);
    boost::system::error_code rec;
    http::response_parser<http::string_body> parser;
    parser.body_limit(std::uint64_t{64} * 1024);
    if (!wec) {
        boost::beast::flat_buffer buffer;
        auto [ec, read] = co_await http::async_read(w->socket, buffer, parser, tuple);
        rec = ec;
    }
    const bool timed_out = disarm(timer, w);
    boost::system::error_code ignored;
    w->socket.close(ignored);
    if (timed_out || wec || rec) {
        r.ec = timed_out ? error_code(client_errc::request_timeout) : (wec ? wec : rec);
        diag.client_message =
            "GET " + url + ": " +
            (timed_out ? "no answer within " + std::to_string(request_timeout.count()) + " ms" : r.ec.message());
        co_return r;
    }
    r.status = parser.get().result_int();
    r.body = std::move(parser.get().body());
    co_return r;
}

}  // namespace cbs::detail
