// hiredis's async event hooks on Asio (see the header).
#include "hiredis_asio.hpp"

#include <hiredis/async.h>

#include <pthread.h>
#include <signal.h>

#include <ctime>

namespace cbs::detail {

namespace {

/// hiredis writes with write(2), which raises SIGPIPE on a socket whose peer
/// is gone, and SIGPIPE's default action ends the program. A library must
/// not change the process's signal dispositions, so SIGPIPE is blocked on
/// this thread around hiredis's write, one it raised is taken off the
/// thread's pending set, and the mask is restored (the write itself fails
/// with EPIPE and hiredis reports the link as lost).
class sigpipe_guard {
public:
    sigpipe_guard() noexcept {
        sigemptyset(&pipe_);
        sigaddset(&pipe_, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
        sigset_t pending;
        sigpending(&pending);
        was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    }
    ~sigpipe_guard() {
        if (!was_pending_) {
            sigset_t pending;
            sigpending(&pending);
            if (sigismember(&pending, SIGPIPE) == 1) {
                const timespec zero{};
                sigtimedwait(&pipe_, nullptr, &zero);
            }
        }
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    sigpipe_guard(const sigpipe_guard&) = delete;
    sigpipe_guard& operator=(const sigpipe_guard&) = delete;

private:
    sigset_t pipe_{};
    sigset_t old_{};
    bool was_pending_ = false;
};

}  // namespace

hiredis_asio_socket::hiredis_asio_socket(const boost::asio::any_io_executor& ex) : sd_(ex) {}

bool hiredis_asio_socket::attach(redisAsyncContext* ac) {
    boost::system::error_code ec;
    sd_.assign(ac->c.fd, ec);
    if (ec) return false;
    ac_ = ac;
    ac->ev.data = this;
    ac->ev.addRead = [](void* p) { static_cast<hiredis_asio_socket*>(p)->want(read, true); };
    ac->ev.delRead = [](void* p) { static_cast<hiredis_asio_socket*>(p)->want(read, false); };
    ac->ev.addWrite = [](void* p) { static_cast<hiredis_asio_socket*>(p)->want(write, true); };
    ac->ev.delWrite = [](void* p) { static_cast<hiredis_asio_socket*>(p)->want(write, false); };
    ac->ev.cleanup = [](void* p) { static_cast<hiredis_asio_socket*>(p)->cleanup(); };
    return true;
}

void hiredis_asio_socket::want(direction d, bool on) {
    want_[d] = on;
    if (on) wait(d);
}

// One-shot interest, like hiredis's libevent adapter: a readiness consumes
// the request, and hiredis asks again (it re-adds the read after every read,
// and the write until its output buffer is empty). delRead/delWrite cannot
// cancel one direction of a descriptor's waits, so they clear the request
// and the wait's completion is then ignored.
void hiredis_asio_socket::wait(direction d) {
    if (waiting_[d] || ac_ == nullptr) return;
    waiting_[d] = true;
    const auto what =
        d == read ? boost::asio::posix::descriptor_base::wait_read : boost::asio::posix::descriptor_base::wait_write;
    sd_.async_wait(what, [self = shared_from_this(), d](const boost::system::error_code& ec) {
        self->waiting_[d] = false;
        // operation_aborted: cleanup released the descriptor.
        if (ec || self->ac_ == nullptr || !self->want_[d]) return;
        self->want_[d] = false;
        // `self` keeps this object alive through the call, in which hiredis
        // may run every callback, call cleanup and free the context.
        if (d == read) {
            redisAsyncHandleRead(self->ac_);
        } else {
            const sigpipe_guard guard;
            redisAsyncHandleWrite(self->ac_);
        }
    });
}

void hiredis_asio_socket::cleanup() noexcept {
    ac_ = nullptr;
    want_ = {};
    // hiredis closes the fd after this hook: give it back without closing it
    // (pending waits complete with operation_aborted, and the descriptor
    // leaves epoll before the number can be reused).
    if (sd_.is_open()) (void)sd_.release();
}

}  // namespace cbs::detail
