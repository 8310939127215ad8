// What a `function` or `coroutine` snippet of the documentation may use
// without including it: every public header of the library and of the
// emulator, Asio's coroutine support, and the usual standard headers.
#pragma once

#include <cbs/actions.hpp>
#include <cbs/client.hpp>
#include <cbs/credential_provider.hpp>
#include <cbs/credentials.hpp>
#include <cbs/describe_actions.hpp>
#include <cbs/emulator/emulator.hpp>
#include <cbs/endpoint.hpp>
#include <cbs/error.hpp>
#include <cbs/fleet.hpp>
#include <cbs/fleet_names.hpp>
#include <cbs/journal.hpp>
#include <cbs/paginate.hpp>
#include <cbs/pool_params.hpp>
#include <cbs/proxy.hpp>
#include <cbs/rate_limiter_core.hpp>
#include <cbs/retention.hpp>
#include <cbs/retry_policy.hpp>
#include <cbs/tc3_signer.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <iostream>
#include <memory>
#include <string>
#include <vector>
