// cbsctl: the hand-written argv walker (see legacy_args.hpp).
#include "legacy_args.hpp"

#include <charconv>

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
