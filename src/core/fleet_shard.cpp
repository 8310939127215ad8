// Splitting a fleet into shards: a hash fixed by its definition (FNV-1a 64),
// so every host and every version puts an instance in the same shard.
#include <cbs/fleet_types.hpp>

namespace cbs {

std::uint64_t fleet_shard_hash(std::string_view id) noexcept {
    constexpr std::uint64_t offset_basis = 14695981039346656037ULL;
    constexpr std::uint64_t prime = 1099511628211ULL;
    std::uint64_t h = offset_basis;
    for (const char c : id) {
        h ^= static_cast<std::uint64_t>(static_cast<unsigned char>(c));
        h *= prime;
    }
    return h;
}

std::size_t fleet_shard_of(std::string_view id, std::size_t shard_count) noexcept {
    if (shard_count <= 1) return 1;
    return static_cast<std::size_t>(fleet_shard_hash(id) % shard_count) + 1;
}

std::string fleet_shard_error(std::size_t shard_index, std::size_t shard_count) {
    if (shard_count == 0) return "the shard count must be at least 1 (got 0)";
    if (shard_index == 0 || shard_index > shard_count)
        return "shard " + std::to_string(shard_index) + "/" + std::to_string(shard_count) +
               ": the shard index must be from 1 to " + std::to_string(shard_count);
    return {};
}

}  // namespace cbs
