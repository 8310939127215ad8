// The completion-token plumbing of the library's async operations.
//
// Every operation completes with `void(cbs::error_code, T)`. Three tokens get
// a form of their own, the rest go through `boost::asio::async_initiate`:
//   - boost::asio::use_awaitable (the default): an awaitable<T> that throws
//     cbs::error (a system_error carrying the diagnostics) on failure, so
//     `co_await c.async_call(...)` keeps the diagnostics a plain system_error
//     would lose;
//   - cbs::as_result: an awaitable<cbs::result<T>>, never throwing;
//   - anything else (callbacks, use_future, deferred, as_tuple, use_promise,
//     ...): async_initiate, the handler type-erased once into an
//     any_completion_handler so the I/O code is compiled once, in the library.
// Typed operations decode the JSON answer in the caller's completion (a
// decoding_handler around the caller's handler, which keeps the caller's
// executor, allocator and cancellation slot through asio::associator).
#pragma once

#include <cbs/error.hpp>
#include <cbs/result.hpp>
#include <cbs/retry_policy.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associator.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/recycling_allocator.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>

#include <memory>
#include <type_traits>
#include <utility>

namespace cbs::detail {

/// The type-erased handler the library's I/O code completes.
using json_handler = boost::asio::any_completion_handler<void(error_code, boost::json::object)>;

/// `h` type-erased into a json_handler. any_completion_handler allocates its
/// storage with the handler's associated allocator: an operator new per call
/// with std::allocator. A handler with no allocator of its own (use_awaitable's,
/// most callbacks) is given Asio's recycling_allocator, which takes the block
/// from a small per-thread cache of freed ones; any other allocator is kept.
template <class Handler>
json_handler erase_handler(Handler&& h) {
    using allocator = boost::asio::associated_allocator_t<std::decay_t<Handler>>;
    if constexpr (std::is_same_v<allocator, std::allocator<void>>)
        return json_handler(
            boost::asio::bind_allocator(boost::asio::recycling_allocator<void>(), std::forward<Handler>(h)));
    else
        return json_handler(std::forward<Handler>(h));
}

template <class Token>
inline constexpr bool is_use_awaitable_v = std::is_same_v<std::decay_t<Token>, boost::asio::use_awaitable_t<>>;
template <class Token>
inline constexpr bool is_as_result_v = std::is_same_v<std::decay_t<Token>, as_result_t>;

/// A completion token for `Signature`, or cbs::as_result (which only the
/// library's operations take).
template <class Token, class Signature>
concept token_for = boost::asio::completion_token_for<Token, Signature> || is_as_result_v<Token>;

/// The untyped answer: the Response object as it came.
struct json_decoder {
    using value_type = boost::json::object;
    error_code operator()(boost::json::object&& in, boost::json::object& out, diagnostics&) const {
        out = std::move(in);
        return {};
    }
};

/// A typed answer: `from_json` of the request's response type. A success the
/// client cannot read is outcome_unknown for an action that is not
/// idempotent: whatever the service did, it did, and the caller must
/// reconcile before sending it again.
template <class Request>
struct response_decoder {
    using value_type = typename Request::response_type;
    error_code operator()(boost::json::object&& in, value_type& out, diagnostics& diag) const {
        error_code ec = from_json(in, out, diag);
        if (ec && !is_idempotent(Request::action)) {
            diag.client_message +=
                "; the service answered success, so it may have been carried out: "
                "reconcile before sending it again";
            ec = client_errc::outcome_unknown;
        }
        return ec;
    }
};

/// The caller's handler with the decode step in front.
template <class Decode, class Handler>
struct decoding_handler {
    Decode decode;
    Handler handler;
    diagnostics* diag;  // the caller's, or null

    void operator()(error_code ec, boost::json::object answer) {
        typename Decode::value_type value{};
        if (!ec) {
            diagnostics local;
            ec = decode(std::move(answer), value, diag ? *diag : local);
        }
        std::move(handler)(ec, std::move(value));
    }
};

}  // namespace cbs::detail

namespace boost::asio {

/// decoding_handler keeps the associated executor, allocator and
/// cancellation slot of the handler it wraps.
template <template <class, class> class Associator, class Decode, class Handler, class DefaultCandidate>
struct associator<Associator, cbs::detail::decoding_handler<Decode, Handler>, DefaultCandidate>
    : Associator<Handler, DefaultCandidate> {
    static typename Associator<Handler, DefaultCandidate>::type get(
        const cbs::detail::decoding_handler<Decode, Handler>& h) noexcept {
        return Associator<Handler, DefaultCandidate>::get(h.handler);
    }
    static auto get(const cbs::detail::decoding_handler<Decode, Handler>& h, const DefaultCandidate& c) noexcept
        -> decltype(Associator<Handler, DefaultCandidate>::get(h.handler, c)) {
        return Associator<Handler, DefaultCandidate>::get(h.handler, c);
    }
};

}  // namespace boost::asio

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>

#include <exception>

namespace cbs::detail {

template <class T>
boost::asio::awaitable<result<T>> copy_diag_out(boost::asio::awaitable<result<T>> op, diagnostics* diag) {
    auto r = co_await std::move(op);
    *diag = r.diag;
    co_return r;
}

template <class T>
boost::asio::awaitable<T> value_or_throw(boost::asio::awaitable<result<T>> op, diagnostics* diag) {
    auto r = co_await std::move(op);
    if (diag) *diag = r.diag;
    if (r.ec) throw error(r.ec, std::move(r.diag));
    co_return std::move(r.value);
}

/// Runs `make(args...)`, a coroutine giving result<T>, with co_spawn on
/// `ex`, and completes `handler` with it, keeping the handler's executor and
/// cancellation slot. A struct, not a lambda: GCC 12 relocates a closure
/// with non-trivial captures wrongly when it is a coroutine's parameter, as
/// the initiation is in use_awaitable's async_result.
template <class T, class Make>
struct co_spawn_initiation {
    boost::asio::any_io_executor ex;
    Make make;

    template <class Handler, class... Args>
    void operator()(Handler&& handler, diagnostics* diag, Args... args) const {
        auto hex = boost::asio::get_associated_executor(handler, ex);
        auto slot = boost::asio::get_associated_cancellation_slot(handler);
        boost::asio::co_spawn(
            ex, make(std::move(args)...),
            boost::asio::bind_cancellation_slot(
                slot, boost::asio::bind_executor(hex, [diag, h = std::forward<Handler>(handler)](
                                                          const std::exception_ptr& ep, result<T> r) mutable {
                    if (ep) std::rethrow_exception(ep);
                    if (diag) *diag = std::move(r.diag);
                    std::move(h)(r.ec, std::move(r.value));
                })));
    }
};

/// An operation written as a coroutine giving result<T> (a composed one,
/// such as paging), completed through any token: see the file comment.
/// `make(args...)` creates the coroutine; with a generic token it is created
/// inside the initiation, so a deferred operation starts nothing until it is
/// launched.
template <class T, class Make, class CompletionToken, class... Args>
auto complete_with(boost::asio::any_io_executor ex, Make make, diagnostics* diag, CompletionToken&& token,
                   Args... args) {
    if constexpr (is_as_result_v<CompletionToken>) {
        return diag ? copy_diag_out(make(std::move(args)...), diag) : make(std::move(args)...);
    } else if constexpr (is_use_awaitable_v<CompletionToken>) {
        return value_or_throw(make(std::move(args)...), diag);
    } else {
        return boost::asio::async_initiate<CompletionToken, void(error_code, T)>(
            co_spawn_initiation<T, Make>{std::move(ex), std::move(make)}, token, diag, std::move(args)...);
    }
}

}  // namespace cbs::detail
