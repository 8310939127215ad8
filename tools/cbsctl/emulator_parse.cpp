// cbsctl emulator: the option value parsers (emulator_cmd.hpp).
#include "emulator_cmd.hpp"

#include <sys/stat.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace cbsctl::emulator_cli {

namespace {
constexpr long long max_ms = 86'400'000;  // a day: beyond any useful delay, far from overflow
}  // namespace

long long parse_bounded(std::string_view name, const std::string& text, long long lo, long long hi) {
    long long v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || p != text.data() + text.size() || v < 0)
        throw usage_error(std::string(name) + " expects a non-negative integer, got '" + text + "'");
    if (v < lo || v > hi)
        throw usage_error(std::string(name) + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                          ", got '" + text + "'");
    return v;
}

std::chrono::milliseconds parse_ms(std::string_view name, const std::string& text) {
    return std::chrono::milliseconds(parse_bounded(name, text, 0, max_ms));
}

namespace {
using range = std::pair<std::chrono::milliseconds, std::optional<std::chrono::milliseconds>>;

/// VALUE or MIN-MAX, each side read by `one`.
range parse_range(std::string_view name, const std::string& text,
                  std::chrono::milliseconds (*one)(std::string_view, const std::string&)) {
    const auto dash = text.find('-');
    if (dash == std::string::npos) return {one(name, text), std::nullopt};
    if (dash == 0) throw usage_error(std::string(name) + " must not be negative, got '" + text + "'");
    const auto lo = one(name, text.substr(0, dash)), hi = one(name, text.substr(dash + 1));
    if (hi < lo) throw usage_error(std::string(name) + " expects MIN-MAX with MIN <= MAX, got '" + text + "'");
    return {lo, hi};
}
}  // namespace

std::pair<std::chrono::milliseconds, std::optional<std::chrono::milliseconds>> parse_ms_range(std::string_view name,
                                                                                              const std::string& text) {
    return parse_range(name, text, parse_ms);
}

std::chrono::milliseconds parse_delay(std::string_view name, const std::string& text) {
    // parse_duration clamps at 30 days: anything above a day, clamped or
    // not, is refused here, so nothing is silently shortened.
    const auto d = parse_duration(text, name, /*allow_zero=*/true);
    if (d.count() > max_ms) throw usage_error(std::string(name) + " must be at most 1d (a day), got '" + text + "'");
    return d;
}

std::pair<std::chrono::milliseconds, std::optional<std::chrono::milliseconds>> parse_delay_range(
    std::string_view name, const std::string& text) {
    return parse_range(name, text, parse_delay);
}

unsigned parse_action_rate(std::string_view name, const std::string& text, std::chrono::milliseconds window) {
    // 0 = unlimited: parse_rate refuses zero, so it is recognised here (0,
    // 0.0, 0/s, 0/m, 0/h).
    const auto slash = text.find('/');
    const std::string number = text.substr(0, slash);
    const std::string unit = slash == std::string::npos ? "s" : text.substr(slash + 1);
    if (!number.empty() && number.find_first_not_of("0.") == std::string::npos &&
        number.find('0') != std::string::npos && number.find('.') == number.rfind('.') &&
        (unit == "s" || unit == "m" || unit == "h"))
        return 0;
    const double per_second = parse_rate(text, name);
    const double per_window = per_second * static_cast<double>(window.count()) / 1000.0;
    const double whole = std::round(per_window);
    if (whole < 1 || std::abs(per_window - whole) > 1e-9 * whole) {
        std::ostringstream got;
        got << per_second;
        throw usage_error(std::string(name) + " must be a whole number of requests per " +
                          (window == std::chrono::seconds(1) ? std::string("second") : format_duration(window)) +
                          " (the emulator's rate window), got '" + text + "' (" + got.str() + "/s)");
    }
    return static_cast<unsigned>(whole);
}

std::string read_secret_file(const std::string& opt, const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw usage_error(opt + ": cannot read '" + path + "'");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
        std::cerr << "cbsctl: warning: " << opt << " '" << path << "' is readable by other users (chmod 600 it)\n";
    return text;
}

std::string first_line(const std::string& opt, const std::string& path) {
    const std::string text = read_secret_file(opt, path);
    std::string line = text.substr(0, text.find('\n'));
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    if (line.empty()) throw usage_error(opt + " '" + path + "': the first line is empty");
    return line;
}

std::vector<std::pair<std::string, double>> parse_throttle_codes(const std::string& text) {
    std::vector<std::pair<std::string, double>> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto comma = text.find(',', start);
        std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        start = comma == std::string::npos ? text.size() + 1 : comma + 1;
        double w = 1;
        if (const auto eq = item.find('='); eq != std::string::npos) {
            const std::string wt = item.substr(eq + 1);
            auto [p, ec] = std::from_chars(wt.data(), wt.data() + wt.size(), w);
            if (ec != std::errc{} || p != wt.data() + wt.size() || !(w > 0 && w < 1e9))
                throw usage_error("--throttle-codes: the weight of '" + item + "' must be a positive number");
            item = item.substr(0, eq);
        }
        if (!item.empty() && item.front() == '.') item.insert(0, "RequestLimitExceeded");
        if (item != "RequestLimitExceeded" && !item.starts_with("RequestLimitExceeded."))
            throw usage_error("--throttle-codes: '" + item +
                              "' is not RequestLimitExceeded or one of its sub-codes (.UinLimitExceeded, ...)");
        out.emplace_back(item, w);
    }
    return out;
}

double parse_probability(std::string_view name, const std::string& text) {
    double v = -1;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || p != text.data() + text.size() || !(v >= 0 && v <= 1))
        throw usage_error(std::string(name) + " expects a probability between 0 and 1, got '" + text + "'");
    return v;
}

double parse_time_scale(const std::string& text) {
    double v = -1;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || p != text.data() + text.size() || !(v > 0 && v <= 1000))
        throw usage_error("--time-scale expects a factor above 0 and at most 1000, got '" + text + "'");
    return v;
}

std::vector<std::string> split_commas(const std::string& text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto comma = text.find(',', start);
        std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        start = comma == std::string::npos ? text.size() + 1 : comma + 1;
        if (!item.empty()) out.push_back(std::move(item));
    }
    return out;
}

std::chrono::seconds parse_temp_lifetime(const std::string& text) {
    const auto d = parse_duration(text, "--temp-lifetime");
    if (d < std::chrono::seconds(1) || d > std::chrono::hours(12) || d % std::chrono::seconds(1) != d.zero())
        throw usage_error("--temp-lifetime must be whole seconds between 1s and 12h (43200s), got '" + text + "'");
    return std::chrono::duration_cast<std::chrono::seconds>(d);
}

void parse_listen(const std::string& text, cbs::emu::emulator_params& p) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon + 1 == text.size())
        throw usage_error("--listen expects ADDR:PORT, got '" + text + "'");
    std::string addr = text.substr(0, colon);
    if (addr.size() >= 2 && addr.front() == '[' && addr.back() == ']') addr = addr.substr(1, addr.size() - 2);
    const auto port = parse_bounded("--listen port", text.substr(colon + 1), 0, 65535);
    p.listen_address = addr;
    p.port = static_cast<std::uint16_t>(port);
}

}  // namespace cbsctl::emulator_cli
