// cbsctl: command-line client for Tencent Cloud CBS snapshot groups.
#include "cli.hpp"

#include <charconv>
#include <iostream>

namespace cbsctl {

std::optional<std::string> args::value(std::string_view name) {
    if (done()) return std::nullopt;
    const std::string& tok = argv_[pos_];
    if (tok == name) {
        if (pos_ + 1 >= argv_.size()) throw usage_error(std::string(name) + " needs a value");
        pos_ += 2;
        return argv_[pos_ - 1];
    }
    if (tok.size() > name.size() && tok.compare(0, name.size(), name) == 0 && tok[name.size()] == '=') {
        ++pos_;
        return tok.substr(name.size() + 1);
    }
    return std::nullopt;
}

bool args::flag(std::string_view name) {
    if (!done() && argv_[pos_] == name) {
        ++pos_;
        return true;
    }
    return false;
}

long long parse_number(std::string_view name, const std::string& text) {
    long long v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || p != text.data() + text.size() || v < 0)
        throw usage_error(std::string(name) + " expects a non-negative integer, got '" + text + "'");
    return v;
}

}  // namespace cbsctl

namespace {

void print_usage(std::ostream& os) {
    os << "usage: cbsctl <command> [options]\n\n"
          "commands:\n"
          "  call <Action>    send one signed Tencent Cloud API 3.0 call to CBS\n"
          "  snapshot-fleet   one snapshot group per instance, for a whole fleet, with a report\n"
          "  demo             snapshot a fleet on the embedded emulator (no cloud needed)\n"
          "  emulator         run the CBS emulator as a local HTTPS server\n\n";
    cbsctl::print_call_usage(os);
    os << "\n";
    cbsctl::print_snapshot_fleet_usage(os);
    os << "\n";
    cbsctl::print_demo_usage(os);
    os << "\n";
    cbsctl::print_emulator_usage(os);
    os << "\nexit status (every command): 0 success, 1 failure (a call failed, or some instances did not\n"
          "finish), 2 usage or configuration error, 130 interrupted (snapshot-fleet, demo)\n";
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> argv_v(argv + 1, argv + argc);
    cbsctl::args a(std::move(argv_v));
    try {
        if (a.done()) {
            print_usage(std::cerr);
            return cbsctl::exit_usage;
        }
        auto cmd = a.next();
        if (cmd == "call") return cbsctl::run_call(a);
        if (cmd == "snapshot-fleet") return cbsctl::run_snapshot_fleet(a);
        if (cmd == "demo") return cbsctl::run_demo(a);
        if (cmd == "emulator") return cbsctl::run_emulator(a);
        if (cmd == "-h" || cmd == "--help" || cmd == "help") {
            print_usage(std::cout);
            return cbsctl::exit_ok;
        }
        throw cbsctl::usage_error("unknown command '" + cmd + "' (try: cbsctl --help)");
    } catch (const cbsctl::usage_error& e) {
        std::cerr << "cbsctl: " << e.what() << "\n";
        return cbsctl::exit_usage;
    } catch (const cbs::error& e) {  // a failure no command turned into a message of its own
        std::cerr << "cbsctl: " << e.diag().to_string(e.code()) << "\n";
        return cbsctl::exit_failed;
    } catch (const std::exception& e) {
        std::cerr << "cbsctl: " << e.what() << "\n";
        return cbsctl::exit_failed;
    }
}
