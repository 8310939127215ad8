// Parsing snapshot-fleet's group names (see fleet_names.hpp).
#include <cbs/fleet_names.hpp>

namespace cbs {

namespace {
bool lower_alnum(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool run_id_char(char c) noexcept {
    return lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' || c == '-';
}
constexpr std::size_t instance_id_size = 12;  // "ins-" + 8
}  // namespace

bool is_instance_id(std::string_view id) noexcept {
    if (id.size() != instance_id_size || !id.starts_with("ins-")) return false;
    for (char c : id.substr(4))
        if (!lower_alnum(c)) return false;
    return true;
}

bool is_run_id(std::string_view run_id) noexcept {
    if (run_id.empty() || run_id.size() > 64 || run_id.front() == '.') return false;
    for (char c : run_id)
        if (!run_id_char(c)) return false;
    return true;
}

std::optional<fleet_group_name_parts> parse_fleet_group_name(std::string_view name, std::string_view prefix) noexcept {
    // Try each "-ins-" from the left; with a prefix, only the one right after it.
    std::size_t at = prefix.empty() ? name.find("-ins-") : prefix.size();
    while (at != std::string_view::npos && at > 0 && at < name.size()) {
        if (!prefix.empty() && (!name.starts_with(prefix) || name.compare(at, 5, "-ins-") != 0)) return std::nullopt;
        const auto id = name.substr(at + 1, instance_id_size);
        const auto after = at + 1 + instance_id_size;
        if (is_instance_id(id) && after < name.size() && name[after] == '-' && is_run_id(name.substr(after + 1)))
            return fleet_group_name_parts{std::string(name.substr(0, at)), std::string(id),
                                          std::string(name.substr(after + 1))};
        if (!prefix.empty()) return std::nullopt;
        at = name.find("-ins-", at + 1);
    }
    return std::nullopt;
}

}  // namespace cbs
