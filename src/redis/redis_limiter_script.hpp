// The shared limiter's Lua script: GCRA on the server's clock, with the
// throttle feedback stored beside it. Its arguments and answer are listed at
// its top (redis_limiter_script.cpp).
#pragma once

namespace cbs::detail {
extern const char* const shared_limiter_script;
}  // namespace cbs::detail
