// One Redis connection on Asio (see redis_connection.hpp for the contract).
//
// The pieces: redis_link_fsm decides (connect, AUTH, backoff, stop), this
// file does what it says: resolves with Asio, connects hiredis to a numeric
// address, drives hiredis through hiredis_asio_socket and times connect
// attempts and commands with steady_timers (hiredis 0.14 has no timeouts of
// its own).
//
// Lifetimes. hiredis holds raw pointers: ac->data is the link (a
// hiredis_asio_socket, with the commands in flight on it) and the link holds
// the impl's address. A link lives as long as the impl holds it as the
// current link or an Asio wait holds it (every hiredis callback runs inside a
// wait's redisAsyncHandleRead/Write, or inside our own redisAsyncFree); the
// impl lives while the redis_connection does or a timer is pending, and the
// redis_connection's destructor frees every context it made (stop()), so no
// hiredis callback can reach a dead impl. hiredis calls the reply callbacks
// (with NULL when the link goes), then cleanup, then the disconnect
// callback, and then frees the context: it is never used after cleanup.
// Handlers are posted to the executor, so no user code runs inside hiredis
// (a handler that calls stop() or async_command is safe).
#include "redis_connection.hpp"

#include "hiredis_asio.hpp"
#include "redis_link_fsm.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <deque>
#include <random>
#include <utility>

namespace cbs::detail {

namespace {

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;
using kind = redis_link_action::kind;

/// The jitter of the reconnect delays.
uniform_source make_jitter() {
    return [rng = std::minstd_rand(std::random_device{}())]() mutable {
        return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    };
}

}  // namespace

struct redis_connection::impl : std::enable_shared_from_this<redis_connection::impl> {
    struct pending {
        handler h;
        clock_type::time_point deadline;
        bool timed_out = false;
    };
    /// One hiredis context and the commands sent on it, oldest first (Redis
    /// answers in order, and hiredis calls back in that order).
    struct link final : hiredis_asio_socket {
        link(const asio::any_io_executor& ex, impl* o) : hiredis_asio_socket(ex), owner(o) {}
        impl* owner;
        std::deque<pending> inflight;
        error_code drop_reason = redis_errc::connection_lost;
    };

    impl(asio::any_io_executor ex, redis_link_params p)
        : ex_(std::move(ex)),
          params_(std::move(p)),
          fsm_(params_.backoff_initial, params_.backoff_max, !params_.password.empty(), make_jitter()),
          where_("redis " + params_.host + ":" + std::to_string(params_.port)),
          resolver_(ex_),
          attempt_timer_(ex_),
          backoff_timer_(ex_),
          command_timer_(ex_) {}

    // --- the state machine's events, queued so that an event raised while
    // another one's actions run (a free that calls back) comes after them.
    void feed(redis_link_event e, std::string why = {}) {
        events_.emplace_back(e, std::move(why));
        if (feeding_) return;
        feeding_ = true;
        while (!events_.empty()) {
            auto [ev, w] = std::move(events_.front());
            events_.pop_front();
            why_ = std::move(w);
            for (const auto& a : fsm_.on(ev)) run(a);
        }
        feeding_ = false;
    }

    void run(const redis_link_action& a) {
        switch (a.what) {
            case kind::start_resolve:
                start_resolve();
                break;
            case kind::start_connect:
                next_address_ = 0;
                connect_next();
                break;
            case kind::send_auth:
                send_auth();
                break;
            case kind::notify_ready:
                attempt_timer_.cancel();
                ++generation_;
                ++stats_.connects;
                notify(true, {});
                break;
            case kind::drop_link:
                drop_link();
                break;
            case kind::notify_failed:
                ++stats_.connect_failures;
                notify(false, why_);
                break;
            case kind::notify_lost:
                ++stats_.losses;
                notify(false, why_);
                break;
            case kind::arm_backoff:
                backoff_timer_.expires_after(a.delay);
                backoff_timer_.async_wait([self = shared_from_this(), attempt = attempt_](const error_code& ec) {
                    if (!ec && attempt == self->attempt_) self->feed(redis_link_event::backoff_elapsed);
                });
                break;
            case kind::cancel_timers:
                attempt_timer_.cancel();
                backoff_timer_.cancel();
                command_timer_.cancel();
                resolver_.cancel();
                break;
        }
    }

    // --- an attempt: resolve (Asio: getaddrinfo never runs on this thread),
    // then hiredis connects to each address in turn, then AUTH.
    void start_resolve() {
        const auto attempt = ++attempt_;
        attempt_timer_.expires_after(params_.connect_timeout);
        attempt_timer_.async_wait([self = shared_from_this(), attempt](const error_code& ec) {
            // (the timer may have fired just before the link became ready)
            if (ec || attempt != self->attempt_ || !self->fsm_.attempting()) return;
            self->feed(redis_link_event::timeout, self->where_ + ": connect timed out after " +
                                                      std::to_string(self->params_.connect_timeout.count()) + " ms");
        });
        resolver_.async_resolve(
            params_.host, std::to_string(params_.port), asio::ip::tcp::resolver::numeric_service,
            [self = shared_from_this(), attempt](const error_code& ec, const asio::ip::tcp::resolver::results_type& r) {
                if (attempt != self->attempt_ || self->fsm_.state() != redis_link_state::resolving) return;
                if (ec) {
                    self->feed(redis_link_event::connect_failed, self->where_ + ": resolve failed: " + ec.message());
                    return;
                }
                self->addresses_.clear();
                for (const auto& e : r) self->addresses_.push_back(e.endpoint().address().to_string());
                self->feed(redis_link_event::resolved);
            });
    }

    void connect_next() {
        std::string why = where_ + ": no address";
        while (next_address_ < addresses_.size()) {
            const std::string& address = addresses_[next_address_++];
            redisAsyncContext* ac = redisAsyncConnect(address.c_str(), params_.port);
            if (ac == nullptr) {
                why = where_ + ": connect failed: out of memory";
                continue;
            }
            if (ac->err != 0) {  // (loopback refuses at once)
                why = where_ + ": connect to " + address + " failed: " + ac->errstr;
                redisAsyncFree(ac);
                continue;
            }
            auto l = std::make_shared<link>(ex_, this);
            if (!l->attach(ac)) {
                why = where_ + ": cannot watch the socket";
                redisAsyncFree(ac);
                continue;
            }
            ac->data = l.get();
            link_ = std::move(l);
            redisAsyncSetDisconnectCallback(ac, &impl::on_disconnect);
            redisAsyncSetConnectCallback(ac, &impl::on_connect);  // (asks for a write: connected when writable)
            return;
        }
        feed(redis_link_event::connect_failed, std::move(why));
    }

    static void on_connect(const redisAsyncContext* ac, int status) {
        auto* l = static_cast<link*>(ac->data);
        impl* self = l->owner;
        if (self->link_.get() != l) return;
        if (status == REDIS_OK) {
            self->feed(redis_link_event::tcp_connected);
            return;
        }
        // hiredis frees this context when we return (and calls no disconnect
        // callback): forget it, then try the next address (posted: the context
        // is still being torn down) or fail the attempt.
        std::string why = self->where_ + ": connect failed: " + ac->c.errstr;
        l->forget();
        self->link_.reset();
        if (self->next_address_ >= self->addresses_.size()) {
            self->feed(redis_link_event::connect_failed, std::move(why));
            return;
        }
        asio::post(self->ex_, [s = self->shared_from_this(), attempt = self->attempt_] {
            if (attempt == s->attempt_ && s->fsm_.state() == redis_link_state::connecting) s->connect_next();
        });
    }

    static void on_disconnect(const redisAsyncContext* ac, int /*status*/) {
        auto* l = static_cast<link*>(ac->data);
        impl* self = l->owner;
        if (self->link_.get() != l) return;  // dropped by us (drop_link)
        l->forget();
        const char* cause = ac->err != 0 && ac->errstr != nullptr ? ac->errstr : "closed by the server";
        self->feed(redis_link_event::lost, self->where_ + ": connection lost: " + cause);
    }

    void send_auth() {
        redisAsyncContext* ac = link_ ? link_->context() : nullptr;
        std::vector<const char*> argv{"AUTH"};
        std::vector<std::size_t> len{4};
        if (!params_.user.empty()) {
            argv.push_back(params_.user.data());
            len.push_back(params_.user.size());
        }
        argv.push_back(params_.password.data());
        len.push_back(params_.password.size());
        if (ac == nullptr || redisAsyncCommandArgv(ac, &impl::on_auth_reply, nullptr, static_cast<int>(argv.size()),
                                                   argv.data(), len.data()) != REDIS_OK) {
            feed(redis_link_event::connect_failed, where_ + ": AUTH could not be sent");
        }
    }

    static void on_auth_reply(redisAsyncContext* ac, void* r, void* /*privdata*/) {
        auto* l = static_cast<link*>(ac->data);
        impl* self = l->owner;
        // NULL: the link went (on_disconnect reports it) or we dropped it.
        if (self->link_.get() != l || r == nullptr) return;
        const auto* reply = static_cast<const redisReply*>(r);
        if (reply->type != REDIS_REPLY_ERROR) {
            self->feed(redis_link_event::connect_ok);
            return;
        }
        // Only the error's first word (WRONGPASS, NOAUTH, ERR): the server's
        // text is about the password, and never contains it, but a secret
        // must not reach a message even if some server echoed it.
        const std::string text(reply->str, reply->len);
        self->feed(redis_link_event::connect_failed,
                   self->where_ + ": AUTH failed (" + text.substr(0, text.find(' ')) + ")");
    }

    // --- dropping a link: hiredis runs the reply callbacks with NULL (they
    // fail the commands in flight), then cleanup. Inside one of its own
    // callbacks (AUTH's), hiredis defers the free to the callback's return.
    void drop_link() {
        resolver_.cancel();
        if (!link_) return;
        const std::shared_ptr<link> l = std::move(link_);  // not current: its callbacks are ignored
        l->drop_reason = fsm_.state() == redis_link_state::stopped ? error_code(redis_errc::stopped)
                                                                   : error_code(redis_errc::connection_lost);
        if (redisAsyncContext* ac = l->context()) {
            redisAsyncFree(ac);
        } else {
            for (auto& p : l->inflight) complete(std::move(p.h), p.timed_out ? redis_errc::timeout : l->drop_reason);
            l->inflight.clear();
        }
    }

    // --- commands.
    void command(std::vector<std::string>&& argv, handler h) {
        redisAsyncContext* ac = fsm_.state() == redis_link_state::ready && link_ ? link_->context() : nullptr;
        if (ac == nullptr) {
            complete(std::move(h),
                     fsm_.state() == redis_link_state::stopped ? redis_errc::stopped : redis_errc::not_ready);
            return;
        }
        if (argv.empty()) {  // (nothing to send: hiredis would write an empty array)
            redis_reply reply;
            reply.type = redis_reply::kind::error;
            reply.str = "ERR empty command (not sent)";
            complete(std::move(h), redis_errc::server_error, std::move(reply));
            return;
        }
        std::vector<const char*> args;
        std::vector<std::size_t> lens;
        args.reserve(argv.size());
        lens.reserve(argv.size());
        for (const auto& a : argv) {
            args.push_back(a.data());
            lens.push_back(a.size());
        }
        // hiredis copies the command into its output buffer and asks for a
        // write: nothing is sent and no callback runs inside this call.
        if (redisAsyncCommandArgv(ac, &impl::on_command_reply, nullptr, static_cast<int>(args.size()), args.data(),
                                  lens.data()) != REDIS_OK) {
            complete(std::move(h), redis_errc::not_ready);
            return;
        }
        link_->inflight.push_back({std::move(h), clock_type::now() + params_.command_timeout});
        ++stats_.commands;
        arm_command_timer();
    }

    static void on_command_reply(redisAsyncContext* ac, void* r, void* /*privdata*/) {
        auto* l = static_cast<link*>(ac->data);
        if (l->inflight.empty()) return;
        pending p = std::move(l->inflight.front());
        l->inflight.pop_front();
        if (r == nullptr) {  // the link went with this command in flight
            error_code ec = l->drop_reason;
            if (p.timed_out) {
                ec = redis_errc::timeout;
            } else if (ac->err == REDIS_ERR_PROTOCOL) {
                ec = redis_errc::protocol;
            }
            l->owner->complete(std::move(p.h), ec);
            return;
        }
        redis_reply reply = copy_reply(*static_cast<const redisReply*>(r));
        const error_code ec =
            reply.type == redis_reply::kind::error ? error_code(redis_errc::server_error) : error_code();
        l->owner->complete(std::move(p.h), ec, std::move(reply));
    }

    // One timer for every command of the link: Redis answers in order, so the
    // oldest command's deadline comes first. It is re-armed lazily: when it
    // fires, an answered command's deadline has simply moved to the next one.
    void arm_command_timer() {
        if (command_timer_armed_ || !link_ || link_->inflight.empty()) return;
        command_timer_armed_ = true;
        command_timer_.expires_at(link_->inflight.front().deadline);
        command_timer_.async_wait([self = shared_from_this()](const error_code&) {
            self->command_timer_armed_ = false;
            self->check_command_timeout();
        });
    }

    void check_command_timeout() {
        if (fsm_.state() != redis_link_state::ready || !link_ || link_->inflight.empty()) return;
        auto& oldest = link_->inflight.front();
        if (clock_type::now() < oldest.deadline) {
            arm_command_timer();
            return;
        }
        // A late answer could be read as the next command's: the link goes.
        oldest.timed_out = true;
        ++stats_.timeouts;
        feed(redis_link_event::timeout, where_ + ": no answer within " +
                                            std::to_string(params_.command_timeout.count()) +
                                            " ms (the link is re-made)");
    }

    void complete(handler h, error_code ec, redis_reply reply = {}) {
        asio::post(ex_, [h = std::move(h), ec, reply = std::move(reply)]() mutable { h(ec, std::move(reply)); });
    }

    void notify(bool ready, std::string why) {
        if (!on_state_) return;
        asio::post(ex_, [h = on_state_, ready, why = std::move(why)] { h(ready, why); });
    }

    asio::any_io_executor ex_;
    redis_link_params params_;
    redis_link_fsm fsm_;
    std::string where_;  ///< "redis host:port", the start of every message
    asio::ip::tcp::resolver resolver_;
    asio::steady_timer attempt_timer_;
    asio::steady_timer backoff_timer_;
    asio::steady_timer command_timer_;
    bool command_timer_armed_ = false;
    std::shared_ptr<link> link_;  ///< the current link (connecting or ready)
    std::vector<std::string> addresses_;
    std::size_t next_address_ = 0;
    std::uint64_t attempt_ = 0;
    std::uint64_t generation_ = 0;
    redis_link_stats stats_;
    state_handler on_state_;
    std::deque<std::pair<redis_link_event, std::string>> events_;
    bool feeding_ = false;
    std::string why_;
};

redis_connection::redis_connection(boost::asio::any_io_executor ex, redis_link_params params)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(params))) {}

redis_connection::~redis_connection() {
    impl_->on_state_ = nullptr;
    impl_->feed(redis_link_event::stop);
}

void redis_connection::start() {
    impl_->feed(redis_link_event::start);
}
void redis_connection::stop() {
    impl_->feed(redis_link_event::stop);
}
bool redis_connection::ready() const noexcept {
    return impl_->fsm_.state() == redis_link_state::ready;
}
std::uint64_t redis_connection::generation() const noexcept {
    return impl_->generation_;
}
const redis_link_stats& redis_connection::stats() const noexcept {
    return impl_->stats_;
}
void redis_connection::on_state(state_handler h) {
    impl_->on_state_ = std::move(h);
}

void redis_connection::async_command(std::vector<std::string> argv, handler h) {
    impl_->command(std::move(argv), std::move(h));
}

}  // namespace cbs::detail
