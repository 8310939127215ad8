// Names of the snapshot groups snapshot-fleet creates, and parsing them
// back: `<prefix>-<instance-id>-<run-id>` (see fleet_group_name() in
// fleet_types.hpp). DescribeSnapshotGroups has no tag filter, so listing and
// pruning recognise a fleet's groups by this pattern.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cbs {

/// The parts of a fleet group name.
struct fleet_group_name_parts {
    std::string prefix;       ///< e.g. "nightly" (may itself contain '-')
    std::string instance_id;  ///< "ins-" and 8 lower-case letters or digits
    std::string run_id;       ///< 1 to 64 of [A-Za-z0-9._-], not starting with '.'
};

/// True when `id` has the shape of a CVM instance id: "ins-" followed by 8
/// lower-case letters or digits.
bool is_instance_id(std::string_view id) noexcept;

/// True when `run_id` is a valid run id: 1 to 64 letters, digits, '.', '_'
/// or '-', not starting with '.'.
bool is_run_id(std::string_view run_id) noexcept;

/// Splits `name` into prefix, instance id and run id. With `prefix` given,
/// only names starting with exactly "<prefix>-ins-" match. Without it, the
/// leftmost "-ins-XXXXXXXX-" whose remainder is a valid run id splits the
/// name (so a prefix containing an instance-id-like part is read as the
/// shortest prefix possible: give the prefix to remove the ambiguity).
/// nullopt: not a fleet group name.
std::optional<fleet_group_name_parts> parse_fleet_group_name(std::string_view name,
                                                             std::string_view prefix = {}) noexcept;

}  // namespace cbs
