// cbsctl emulator: what its options set, their parsers (emulator_parse.cpp),
// their registration on CLI11 and the checks across options
// (emulator_options.cpp); the command itself is emulator_cmd.cpp.
#pragma once

#include "cli.hpp"

#include <cbs/emulator/emulator.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cbsctl::emulator_cli {

// The role `cbsctl emulator` accepts unless --roles says otherwise.
inline constexpr const char* default_role = "qcs::cam::uin/100000000001:roleName/cbs-emulator-role";

/// Everything the options set; checked together once parsing is done.
struct emulator_options {
    cbs::emu::emulator_params p;
    cbs::emu::account acct;
    cbs::emu::fault_rule rule;
    std::string fault_action = "*";
    std::optional<std::string> secret_key, key_file;
    std::vector<cbs::emu::account> more;
    bool roles_given = false;
    std::optional<std::string> metadata_role, oidc_token_file;
    std::chrono::milliseconds rollback_time = cbs::emu::fleet_params{}.rollback_time;
};

/// Registers every option of `cbsctl emulator` on `cmd`, bound to `o` (which
/// must outlive the parse).
void add_emulator_options(CLI::App* cmd, emulator_options& o);

/// The checks that involve several options, then the keys, roles, metadata
/// role, OIDC token and fault rule in o.p. True when keys were given (they
/// are then not echoed). Throws usage_error.
bool finish_options(emulator_options& o);

// ---- value parsers: each throws usage_error naming `name` and the text ----

/// A whole number in [lo, hi].
long long parse_bounded(std::string_view name, const std::string& text, long long lo, long long hi);
/// A delay in the shared duration syntax (parse_duration: 500ms, 90s, 10m;
/// 0 allowed), at most a day.
std::chrono::milliseconds parse_delay(std::string_view name, const std::string& text);
/// DURATION or MIN-MAX, each side a delay (20ms-200ms).
std::pair<std::chrono::milliseconds, std::optional<std::chrono::milliseconds>> parse_delay_range(
    std::string_view name, const std::string& text);
/// Milliseconds as a bare number, at most a day (the deprecated -ms options).
std::chrono::milliseconds parse_ms(std::string_view name, const std::string& text);
/// MS or MIN-MAX milliseconds (the deprecated -ms options).
std::pair<std::chrono::milliseconds, std::optional<std::chrono::milliseconds>> parse_ms_range(std::string_view name,
                                                                                              const std::string& text);
/// The value of --rate ACTION=RATE: the shared rate syntax (parse_rate: 20,
/// 20/s, 1200/m) as whole requests per window of `window`; 0 (also 0/s...) is
/// unlimited. A rate that is not a whole number per window is refused.
unsigned parse_action_rate(std::string_view name, const std::string& text, std::chrono::milliseconds window);
/// A secret file's text (warns when others may read it).
std::string read_secret_file(const std::string& opt, const std::string& path);
/// The first line of a secret file, trimmed; empty is an error.
std::string first_line(const std::string& opt, const std::string& path);
/// CODE[=W],... (".Sub" is short for "RequestLimitExceeded.Sub").
std::vector<std::pair<std::string, double>> parse_throttle_codes(const std::string& text);
/// A probability in [0, 1].
double parse_probability(std::string_view name, const std::string& text);
/// A factor in (0, 1000].
double parse_time_scale(const std::string& text);
/// Comma-separated, empty items dropped.
std::vector<std::string> split_commas(const std::string& text);
/// Whole seconds between 1 s and 12 h, in the duration syntax.
std::chrono::seconds parse_temp_lifetime(const std::string& text);
/// ADDR:PORT (or [IPv6]:PORT) into p.listen_address and p.port.
void parse_listen(const std::string& text, cbs::emu::emulator_params& p);

}  // namespace cbsctl::emulator_cli
