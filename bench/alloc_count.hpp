// Counts every allocation of the executable it is linked into: alloc_count.cpp
// replaces the global operator new and delete (all forms) with versions that
// bump two atomic counters (relaxed: a total, not an ordering) and call
// malloc/free. Linked into call_bench only.
#pragma once

#include <cstdint>

namespace cbs_bench {

/// Allocations (operator new calls, every thread) and bytes asked for so far.
struct alloc_snapshot {
    std::uint64_t count = 0, bytes = 0;
};
alloc_snapshot allocations() noexcept;

}  // namespace cbs_bench
