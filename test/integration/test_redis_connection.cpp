// The Redis connection against a real redis-server (test/support/
// redis_server.hpp): commands and replies, not_ready, the loss of the server
// with commands in flight and the reconnection by itself, command and
// connect timeouts, AUTH (and no password in any message), stop().
#include "redis_connection.hpp"
#include "support/redis_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace cbs::detail;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using cbs::error_code;
using cbs::test::redis_server;
using clock_type = std::chrono::steady_clock;

namespace {

/// Runs `io` until `pred()` or `limit`; false on the limit.
template <class Pred>
bool run_until(asio::io_context& io, Pred pred, std::chrono::milliseconds limit = 5000ms) {
    const auto deadline = clock_type::now() + limit;
    while (!pred()) {
        if (clock_type::now() >= deadline) return false;
        io.restart();
        io.run_for(5ms);
        if (io.stopped() && !pred()) std::this_thread::sleep_for(1ms);  // (out of work)
    }
    return true;
}

/// Runs `io` until it is out of work (within `limit`): true when it ran out,
/// i.e. no timer or wait was left behind.
bool runs_out(asio::io_context& io, std::chrono::milliseconds limit = 5000ms) {
    io.restart();
    io.run_for(limit);
    return io.stopped();
}

redis_link_params params_for(const redis_server& server) {
    redis_link_params p;
    p.port = server.port();
    p.backoff_initial = 20ms;
    p.backoff_max = 300ms;
    p.command_timeout = 2000ms;
    return p;
}

struct result {
    bool done = false;
    error_code ec;
    redis_reply reply;
};

/// A command whose outcome lands in the returned slot (read it after running io).
std::shared_ptr<result> send(redis_connection& c, std::vector<std::string> argv) {
    auto r = std::make_shared<result>();
    c.async_command(std::move(argv), [r](error_code ec, redis_reply reply) {
        CHECK_FALSE(r->done);
        r->done = true;
        r->ec = ec;
        r->reply = std::move(reply);
    });
    return r;
}

result call(asio::io_context& io, redis_connection& c, std::vector<std::string> argv) {
    auto r = send(c, std::move(argv));
    REQUIRE(run_until(io, [&] { return r->done; }));
    return *r;
}

/// The state handler's calls, in order.
struct state_log {
    std::vector<std::pair<bool, std::string>> calls;
    void attach(redis_connection& c) {
        c.on_state([this](bool ready, const std::string& why) { calls.emplace_back(ready, why); });
    }
    std::size_t downs() const {
        std::size_t n = 0;
        for (const auto& [ready, why] : calls) n += ready ? 0 : 1;
        return n;
    }
    std::string all() const {
        std::string s;
        for (const auto& [ready, why] : calls) s += (ready ? "up " : "down ") + why + "\n";
        return s;
    }
};

}  // namespace

TEST_CASE("redis: ping, set, get, eval with an array reply, error replies") {
    redis_server server;
    asio::io_context io;
    redis_connection c(io.get_executor(), params_for(server));
    state_log states;
    states.attach(c);
    c.start();
    REQUIRE(run_until(io, [&] { return c.ready(); }));
    CHECK(c.generation() == 1);

    auto r = call(io, c, {"PING"});
    CHECK_FALSE(r.ec);
    CHECK(r.reply.type == redis_reply::kind::status);
    CHECK(r.reply.str == "PONG");

    const std::string binary("a\0b\r\nc", 6);
    r = call(io, c, {"SET", "k", binary});
    CHECK(r.reply.str == "OK");
    r = call(io, c, {"GET", "k"});
    CHECK(r.reply.type == redis_reply::kind::string);
    CHECK(r.reply.str == binary);
    CHECK(call(io, c, {"GET", "missing"}).reply.type == redis_reply::kind::nil);
    r = call(io, c, {"INCRBY", "n", "41"});
    CHECK(r.reply.type == redis_reply::kind::integer);
    CHECK(r.reply.integer == 41);

    r = call(io, c, {"EVAL", "return {1, 'two', {3, false}, redis.status_reply('fine')}", "0"});
    CHECK_FALSE(r.ec);
    REQUIRE(r.reply.type == redis_reply::kind::array);
    REQUIRE(r.reply.elements.size() == 4);
    CHECK(r.reply.elements[0].integer == 1);
    CHECK(r.reply.elements[1].str == "two");
    REQUIRE(r.reply.elements[2].elements.size() == 2);
    CHECK(r.reply.elements[2].elements[0].integer == 3);
    CHECK(r.reply.elements[2].elements[1].type == redis_reply::kind::nil);
    CHECK(r.reply.elements[3].type == redis_reply::kind::status);
    CHECK(r.reply.elements[3].str == "fine");

    r = call(io, c, {"INCR", "k"});
    CHECK(r.ec == redis_errc::server_error);
    CHECK(r.reply.type == redis_reply::kind::error);
    CHECK(r.reply.str.find("ERR") == 0);
    r = call(io, c, {"NO.SUCH.COMMAND"});
    CHECK(r.ec == redis_errc::server_error);
    CHECK(r.reply.str.find("unknown command") != std::string::npos);
    // An error reply is an answer: the link stays.
    CHECK(c.ready());
    CHECK(call(io, c, {"PING"}).reply.str == "PONG");
    CHECK(c.generation() == 1);
    CHECK(c.stats().commands == 9);
    CHECK(c.stats().connects == 1);
    CHECK(states.calls == std::vector<std::pair<bool, std::string>>{{true, ""}});
    CHECK(make_error_code(redis_errc::timeout).message().find("timeout") != std::string::npos);
    CHECK(std::string(redis_category().name()) == "cbs.redis");

    c.stop();
    CHECK(runs_out(io));
}

TEST_CASE("redis: not_ready before the link is up; handlers never run inside the call") {
    redis_server server;
    asio::io_context io;
    redis_connection c(io.get_executor(), params_for(server));
    auto before = send(c, {"PING"});  // not started
    c.start();
    auto during = send(c, {"PING"});  // resolving
    CHECK_FALSE(before->done);
    CHECK_FALSE(during->done);
    REQUIRE(run_until(io, [&] { return before->done && during->done; }));
    CHECK(before->ec == redis_errc::not_ready);
    CHECK(during->ec == redis_errc::not_ready);
    REQUIRE(run_until(io, [&] { return c.ready(); }));
    auto ping = send(c, {"PING"});
    CHECK_FALSE(ping->done);
    auto empty = send(c, {});
    CHECK_FALSE(empty->done);
    REQUIRE(run_until(io, [&] { return ping->done && empty->done; }));
    CHECK_FALSE(ping->ec);
    CHECK(empty->ec == redis_errc::server_error);
    c.stop();
    CHECK(runs_out(io));
}

TEST_CASE("redis: the server killed with commands in flight, then back: the link is re-made by itself") {
    redis_server server;
    asio::io_context io;
    auto params = params_for(server);
    redis_connection c(io.get_executor(), params);
    state_log states;
    states.attach(c);
    c.start();
    REQUIRE(run_until(io, [&] { return c.ready(); }));
    CHECK(c.generation() == 1);

    // Blocked server-side: no answer until the server dies.
    std::vector<std::shared_ptr<result>> inflight;
    for (int i = 0; i < 3; ++i) inflight.push_back(send(c, {"BLPOP", "never", "10"}));
    run_until(
        io, [] { return false; }, 100ms);  // (sent)
    server.kill();
    REQUIRE(run_until(io, [&] {
        for (const auto& r : inflight) {
            if (!r->done) return false;
        }
        return states.downs() >= 1;
    }));
    for (const auto& r : inflight) CHECK(r->ec == redis_errc::connection_lost);
    CHECK_FALSE(c.ready());
    REQUIRE(states.calls.size() >= 2);
    CHECK_FALSE(states.calls[1].first);
    CHECK(states.calls[1].second.find("127.0.0.1:" + std::to_string(server.port())) != std::string::npos);
    CHECK(states.calls[1].second.find("connection lost") != std::string::npos);
    CHECK(c.stats().losses == 1);
    CHECK(send(c, {"PING"}) != nullptr);

    // Down for a while: the attempts are refused and reported, backing off.
    run_until(
        io, [] { return false; }, 700ms);
    CHECK_FALSE(c.ready());
    CHECK(c.stats().connect_failures >= 2);
    CHECK(c.stats().connect_failures <= 12);  // 20, 40, 80, 160, 300, ... ms apart (+-25%)
    CHECK(states.all().find("connect") != std::string::npos);

    server.restart();
    const auto back = clock_type::now();
    REQUIRE(run_until(
        io, [&] { return c.ready(); }, params.backoff_max + 1000ms));
    CHECK(clock_type::now() - back <= params.backoff_max + 500ms);
    CHECK(c.generation() == 2);
    CHECK(c.stats().connects == 2);
    CHECK(states.calls.back() == std::pair<bool, std::string>{true, ""});
    CHECK(call(io, c, {"PING"}).reply.str == "PONG");
    c.stop();
    CHECK(runs_out(io));
}

TEST_CASE("redis: a command with no answer within command_timeout times out, and the link is re-made") {
    redis_server server;
    asio::io_context io;
    auto params = params_for(server);
    params.command_timeout = 200ms;
    redis_connection c(io.get_executor(), params);
    state_log states;
    states.attach(c);
    c.start();
    REQUIRE(run_until(io, [&] { return c.ready(); }));

    const auto t0 = clock_type::now();
    auto blocked = send(c, {"BLPOP", "never", "5"});  // no answer for 5 s
    auto behind = send(c, {"PING"});                  // queued behind it on the same link
    REQUIRE(run_until(io, [&] { return blocked->done && behind->done; }));
    const auto took = clock_type::now() - t0;
    CHECK(blocked->ec == redis_errc::timeout);
    CHECK(behind->ec == redis_errc::connection_lost);
    CHECK(took >= 190ms);
    CHECK(took < 1500ms);
    CHECK(c.stats().timeouts == 1);

    REQUIRE(run_until(io, [&] { return c.ready(); }));
    CHECK(c.generation() == 2);
    CHECK(states.all().find("no answer within 200 ms") != std::string::npos);
    CHECK(call(io, c, {"PING"}).reply.str == "PONG");
    c.stop();
    CHECK(runs_out(io));
}

TEST_CASE("redis: AUTH with a user and a password, with a password only, and a wrong password") {
    const std::string default_secret = "default-s3cret-Xq";
    const std::string user_secret = "limiter-s3cret-Zw";
    redis_server server({.password = default_secret, .acl_user = "limiter", .acl_password = user_secret});
    asio::io_context io;

    SUBCASE("user and password") {
        auto params = params_for(server);
        params.user = "limiter";
        params.password = user_secret;
        redis_connection c(io.get_executor(), params);
        c.start();
        REQUIRE(run_until(io, [&] { return c.ready(); }));
        CHECK(call(io, c, {"ACL", "WHOAMI"}).reply.str == "limiter");
        c.stop();
        CHECK(runs_out(io));
    }
    SUBCASE("password only") {
        auto params = params_for(server);
        params.password = default_secret;
        redis_connection c(io.get_executor(), params);
        c.start();
        REQUIRE(run_until(io, [&] { return c.ready(); }));
        CHECK(call(io, c, {"ACL", "WHOAMI"}).reply.str == "default");
        c.stop();
        CHECK(runs_out(io));
    }
    SUBCASE("a wrong password: connect failures, without the password") {
        const std::string wrong = "wrong-s3cret-Pk";
        for (const std::string user : {"limiter", ""}) {
            CAPTURE(user);
            auto params = params_for(server);
            params.user = user;
            params.password = wrong;
            redis_connection c(io.get_executor(), params);
            state_log states;
            states.attach(c);
            c.start();
            REQUIRE(run_until(io, [&] { return states.downs() >= 2; }));
            CHECK_FALSE(c.ready());
            CHECK(c.generation() == 0);
            CHECK(c.stats().connect_failures >= 2);
            CHECK(c.stats().connects == 0);
            for (const auto& [ready, why] : states.calls) {
                CHECK_FALSE(ready);
                CHECK(why.find("AUTH failed") != std::string::npos);
                CHECK(why.find(wrong) == std::string::npos);
                CHECK(why.find("s3cret") == std::string::npos);
            }
            c.stop();
            CHECK(runs_out(io));
        }
    }
}

TEST_CASE("redis: connect_timeout bounds an attempt whose AUTH gets no answer") {
    // A TCP listener that accepts and never says a word.
    asio::io_context io;
    asio::ip::tcp::acceptor mute(io, {asio::ip::make_address("127.0.0.1"), 0});
    std::vector<asio::ip::tcp::socket> accepted;
    std::function<void()> accept_next = [&] {
        mute.async_accept([&](error_code ec, asio::ip::tcp::socket s) {
            if (ec) return;
            accepted.push_back(std::move(s));
            accept_next();
        });
    };
    accept_next();
    redis_link_params params;
    params.port = mute.local_endpoint().port();
    params.password = "never-s3cret-Jm";
    params.connect_timeout = 150ms;
    params.backoff_initial = 20ms;
    redis_connection c(io.get_executor(), params);
    state_log states;
    states.attach(c);
    const auto t0 = clock_type::now();
    c.start();
    REQUIRE(run_until(io, [&] { return states.downs() >= 1; }));
    CHECK(clock_type::now() - t0 >= 140ms);
    CHECK(states.calls[0].second.find("connect timed out after 150 ms") != std::string::npos);
    CHECK(states.calls[0].second.find("s3cret") == std::string::npos);
    CHECK(c.stats().connect_failures == 1);
    CHECK(accepted.size() == 1);
    c.stop();
    mute.close();
    accepted.clear();
    CHECK(runs_out(io));
}

TEST_CASE("redis: stop() fails the commands in flight with stopped, and the io_context runs out") {
    redis_server server;
    asio::io_context io;

    SUBCASE("ready, with commands in flight") {
        redis_connection c(io.get_executor(), params_for(server));
        c.start();
        REQUIRE(run_until(io, [&] { return c.ready(); }));
        auto a = send(c, {"BLPOP", "never", "10"});
        auto b = send(c, {"PING"});
        run_until(
            io, [] { return false; }, 50ms);
        c.stop();
        CHECK_FALSE(a->done);  // (posted, not run inside stop())
        CHECK(runs_out(io));
        CHECK(a->ec == redis_errc::stopped);
        CHECK(b->ec == redis_errc::stopped);
        CHECK_FALSE(c.ready());
        auto after = send(c, {"PING"});
        CHECK(runs_out(io));
        CHECK(after->ec == redis_errc::stopped);
        c.start();  // (stopped for good)
        CHECK(runs_out(io));
        CHECK_FALSE(c.ready());
    }
    SUBCASE("waiting to reconnect") {
        auto params = params_for(server);
        server.kill();
        redis_connection c(io.get_executor(), params);
        state_log states;
        states.attach(c);
        c.start();
        REQUIRE(run_until(io, [&] { return states.downs() >= 1; }));
        c.stop();
        CHECK(runs_out(io));
    }
    SUBCASE("destroyed with a command in flight") {
        std::shared_ptr<result> a;
        {
            redis_connection c(io.get_executor(), params_for(server));
            c.start();
            REQUIRE(run_until(io, [&] { return c.ready(); }));
            a = send(c, {"BLPOP", "never", "10"});
            run_until(
                io, [] { return false; }, 50ms);
        }
        CHECK(runs_out(io));
        CHECK(a->ec == redis_errc::stopped);
    }
}

TEST_CASE("redis: the host name localhost is resolved asynchronously") {
    redis_server server;
    asio::io_context io;
    auto params = params_for(server);
    params.host = "localhost";  // (may give ::1 first: refused, then 127.0.0.1)
    redis_connection c(io.get_executor(), params);
    state_log states;
    states.attach(c);
    c.start();
    CHECK_FALSE(c.ready());  // nothing happens inside start()
    REQUIRE(run_until(io, [&] { return c.ready(); }));
    CHECK(c.stats().connect_failures == 0);
    CHECK(call(io, c, {"PING"}).reply.str == "PONG");
    c.stop();
    CHECK(runs_out(io));

    // A name that does not resolve: a failed attempt naming the host.
    params.host = "no-such-host.invalid";
    redis_connection bad(io.get_executor(), params);
    state_log bad_states;
    bad_states.attach(bad);
    bad.start();
    REQUIRE(run_until(io, [&] { return bad_states.downs() >= 1; }));
    CHECK(bad_states.calls[0].second.find("redis no-such-host.invalid:") == 0);
    CHECK(bad_states.calls[0].second.find("resolve failed") != std::string::npos);
    bad.stop();
    CHECK(runs_out(io));
}

TEST_CASE("redis: an answer hiredis cannot parse fails with protocol, and the link is re-made") {
    // A TCP server that answers anything with a line that is not RESP.
    asio::io_context io;
    asio::ip::tcp::acceptor garbler(io, {asio::ip::make_address("127.0.0.1"), 0});
    std::vector<std::shared_ptr<asio::ip::tcp::socket>> accepted;
    std::array<char, 512> sink{};
    std::function<void()> accept_next = [&] {
        garbler.async_accept([&](error_code ec, asio::ip::tcp::socket s) {
            if (ec) return;
            auto sock = std::make_shared<asio::ip::tcp::socket>(std::move(s));
            accepted.push_back(sock);
            sock->async_read_some(asio::buffer(sink), [sock](error_code read_ec, std::size_t) {
                if (read_ec) return;
                static const std::string garbage = "?this is not RESP\r\n";
                asio::async_write(*sock, asio::buffer(garbage), [](error_code, std::size_t) {});
            });
            accept_next();
        });
    };
    accept_next();
    redis_link_params params;
    params.port = garbler.local_endpoint().port();
    params.backoff_initial = 20ms;
    redis_connection c(io.get_executor(), params);
    c.start();
    REQUIRE(run_until(io, [&] { return c.ready(); }));
    auto r = call(io, c, {"PING"});
    CHECK(r.ec == redis_errc::protocol);
    CHECK_FALSE(c.ready());
    REQUIRE(run_until(io, [&] { return c.ready(); }));
    CHECK(c.generation() == 2);
    c.stop();
    garbler.close();
    for (auto& s : accepted) s->close();
    CHECK(runs_out(io));
}
