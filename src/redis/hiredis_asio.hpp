// cbs-async: hiredis's async event hooks on Asio (the adapter hiredis 0.14
// has for libevent, libuv... written for an Asio executor).
//
// One object per hiredis async context: the context's socket goes on an
// asio::posix::stream_descriptor, and ac->ev's addRead/delRead/addWrite/
// delWrite wait for readiness with async_wait, then call
// redisAsyncHandleRead/Write, which do the I/O. hiredis owns the fd: cleanup
// (hiredis's last hook before it closes the fd and frees the context)
// releases the descriptor, never closes it, and forgets the context.
//
// Lifetime: hiredis holds a raw pointer (ev.data) to this object; every
// pending wait holds a shared_ptr to it, so it outlives any
// redisAsyncHandleRead/Write call, during which hiredis may run callbacks,
// cleanup and free the context. Created with std::make_shared.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <array>
#include <memory>

struct redisAsyncContext;
struct redisReply;

namespace cbs::detail {

struct redis_reply;
/// A hiredis reply copied out (arrays recursively): hiredis frees its own
/// when the reply callback returns.
redis_reply copy_reply(const redisReply& r);

class hiredis_asio_socket : public std::enable_shared_from_this<hiredis_asio_socket> {
public:
    explicit hiredis_asio_socket(const boost::asio::any_io_executor& ex);
    virtual ~hiredis_asio_socket() = default;
    hiredis_asio_socket(const hiredis_asio_socket&) = delete;
    hiredis_asio_socket& operator=(const hiredis_asio_socket&) = delete;

    /// Takes over the events of `ac`, fresh from redisAsyncConnect without
    /// error (before redisAsyncSetConnectCallback, which asks for a write).
    /// False (nothing installed) when Asio cannot register the fd.
    bool attach(redisAsyncContext* ac);
    /// The context, or null once hiredis cleaned up or forget() was called.
    redisAsyncContext* context() const noexcept { return ac_; }
    /// hiredis frees the context when the current callback returns (its
    /// connect callback with an error): never use or free it again.
    void forget() noexcept { ac_ = nullptr; }

private:
    enum direction { read = 0, write = 1 };
    void want(direction d, bool on);
    void wait(direction d);
    void cleanup() noexcept;

    redisAsyncContext* ac_ = nullptr;
    boost::asio::posix::stream_descriptor sd_;
    std::array<bool, 2> want_{};     ///< hiredis asked for this readiness
    std::array<bool, 2> waiting_{};  ///< an async_wait is pending
};

}  // namespace cbs::detail
