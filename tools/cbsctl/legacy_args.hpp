// cbsctl: the hand-written argv walker the emulator command still uses
// until it moves onto CLI11 (every other command parses with CLI11).
#pragma once

#include "cli.hpp"

namespace cbsctl {

/// Walks argv: flags of the form --name VALUE or --name=VALUE.
class args {
public:
    args(std::vector<std::string> argv) : argv_(std::move(argv)) {}
    bool done() const { return pos_ >= argv_.size(); }
    /// The next raw token.
    const std::string& peek() const { return argv_[pos_]; }
    std::string next() { return argv_[pos_++]; }
    /// If the next token is --name or --name=v, consumes it and returns the value
    /// (taking the following token for the --name form).
    std::optional<std::string> value(std::string_view name);
    /// If the next token is the flag --name, consumes it.
    bool flag(std::string_view name);

private:
    std::vector<std::string> argv_;
    std::size_t pos_ = 0;
};

/// Parses a non-negative number for --name, or throws usage_error naming it.
long long parse_number(std::string_view name, const std::string& text);

}  // namespace cbsctl
