// cbs-async: the outcome of an operation as a value, and the `cbs::as_result`
// completion token that gives it.
//
// Every async operation of the library completes with the signature
// `void(cbs::error_code, T)`. Which form the caller gets depends on the
// completion token, as with any Asio operation:
//
//   co_await c.async_call(a, b);                  // T; throws cbs::error (default token)
//   co_await c.async_call(a, b, cbs::as_result);   // cbs::result<T>; never throws
//   c.async_call(a, b, {}, diag, [](cbs::error_code ec, T v) { ... });   // a callback
//   c.async_call(a, b, {}, asio::use_future);     // std::future<T>
//
// `cbs::as_result` is the form for code that handles failures itself: the
// error code, the diagnostics (server code, message, RequestIds) and the value
// in one object, without an exception and without a separate diagnostics
// variable. It works with the library's operations only (it is not a general
// Asio token).
#pragma once

#include <cbs/error.hpp>

namespace cbs {

/// The outcome of an operation in non-throwing form.
template <class T>
struct result {
    error_code ec;     ///< {} on success
    diagnostics diag;  ///< attempts, RequestIds, and the error details if any
    T value{};         ///< valid only on success
    explicit operator bool() const noexcept { return !ec; }
};

/// Completion token: `co_await op(..., cbs::as_result)` gives a
/// `cbs::result<T>` and never throws for a failed call. The operation runs as
/// a `boost::asio::awaitable`, so it is awaited from a coroutine.
struct as_result_t {
    constexpr as_result_t() noexcept = default;
};
inline constexpr as_result_t as_result{};

}  // namespace cbs
