// cbsctl: shared command-line plumbing.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cbsctl {

/// Exit statuses shared by every subcommand.
enum exit_status : int { exit_ok = 0, exit_failed = 1, exit_usage = 2 };

/// A usage or configuration error: printed as "cbsctl: <message>", exit 2.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

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

int run_call(args& a);
void print_call_usage(std::ostream& os);

/// Parses a non-negative number for --name, or throws usage_error naming it.
long long parse_number(std::string_view name, const std::string& text);

}  // namespace cbsctl
