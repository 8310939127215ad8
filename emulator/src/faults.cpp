// Fault draws, documented limits and regions, and GET query parameters.
#include "gateway.hpp"

#include <boost/json/array.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>

namespace cbs::emu {

unsigned documented_rate_limit(std::string_view action, unsigned default_limit) noexcept {
    // The limits published on each CBS action's API page (docs/reliability.md,
    // "Rate limits"): 100/s for DescribeDisks, 20/s for the six below.
    if (action == "DescribeDisks") return 100;
    // STS API Category page (tencentcloud.com/document/api/1150/49443).
    if (action == "AssumeRole") return 600;
    if (action == "AssumeRoleWithWebIdentity") return 20;
    for (std::string_view a : {"CreateSnapshotGroup", "DescribeSnapshotGroups", "DeleteSnapshotGroup",
                               "ApplySnapshotGroup", "CreateSnapshot", "DescribeSnapshots"})
        if (action == a) return 20;
    return default_limit;
}

const std::vector<std::pair<std::string, double>>& default_throttle_codes() {
    // The documented family (common error codes of API 3.0). The bare code is
    // the most common; the sub-codes are what a client matching the code
    // exactly (as one official SDK does) would fail to retry.
    static const std::vector<std::pair<std::string, double>> codes = {
        {"RequestLimitExceeded", 0.55},
        {"RequestLimitExceeded.UinLimitExceeded", 0.20},
        {"RequestLimitExceeded.IPLimitExceeded", 0.15},
        {"RequestLimitExceeded.GlobalRegionUinLimitExceeded", 0.10},
    };
    return codes;
}

std::pair<std::chrono::milliseconds, std::chrono::milliseconds> latency_range(const fault_params& f) noexcept {
    const auto lo = f.latency;
    const auto hi = f.latency_max ? *f.latency_max : 2 * lo;
    return {lo, std::max(lo, hi)};
}

std::pair<std::chrono::milliseconds, std::chrono::milliseconds> slow_range(const fault_params& f) noexcept {
    const auto hi = f.slow_delay;
    const auto lo = f.slow_delay_min ? *f.slow_delay_min : hi / 2;
    return {std::min(lo, hi), hi};
}

std::chrono::milliseconds draw_delay(std::mt19937_64& rng, std::chrono::milliseconds lo, std::chrono::milliseconds hi,
                                     delay_shape shape) {
    if (hi <= lo || shape == delay_shape::fixed) return std::max(lo, hi);
    // One draw per delay whatever the shape, so the sequence depends only on
    // the seed and the order of delayed requests.
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    const double f = shape == delay_shape::long_tail ? u * u * u : u;
    const auto span = static_cast<double>((hi - lo).count());
    return lo + std::chrono::milliseconds(std::llround(f * span));
}

const std::vector<std::string>& cbs_regions() {
    // The public regions where CBS is sold (DescribeRegions of the CBS/CVM
    // APIs), including the financial zones that need their own domain.
    static const std::vector<std::string> regions = {
        "ap-guangzhou",    "ap-shanghai",      "ap-nanjing",     "ap-beijing", "ap-chengdu",  "ap-chongqing",
        "ap-hongkong",     "ap-singapore",     "ap-jakarta",     "ap-seoul",   "ap-tokyo",    "ap-mumbai",
        "ap-bangkok",      "na-siliconvalley", "na-ashburn",     "na-toronto", "sa-saopaulo", "eu-frankfurt",
        "ap-shanghai-fsi", "ap-shenzhen-fsi",  "ap-beijing-fsi",
    };
    return regions;
}

namespace detail {

fault_draw gateway::draw_fault(std::string_view action) {
    fault_draw d;
    const auto& rules = params_.faults.rules;
    auto it = rules.find(action);
    // "*" means the CBS actions: credential refreshes fail only when a test names them.
    if (it == rules.end() && !is_sts_action(action)) it = rules.find("*");
    if (it == rules.end() || !it->second.any()) return d;
    const fault_rule& r = it->second;
    std::uniform_real_distribution<double> u(0.0, 1.0);
    // Always two draws per request with a rule: the sequence depends only on
    // the seed and the order of requests.
    const double x = u(fault_rng_), y = u(fault_rng_);
    d.latency = y < r.latency;
    double acc = 0;
    const std::pair<double, const char*> kinds[] = {{r.transient, "transient"},
                                                    {r.gateway_502, "gateway_502"},
                                                    {r.reset_before, "reset_before"},
                                                    {r.reset_after, "reset_after"},
                                                    {r.slow, "slow"}};
    for (const auto& [p, name] : kinds) {
        acc += p;
        if (p > 0 && x < acc) {
            d.kind = name;
            break;
        }
    }
    if (d.kind == "transient") {
        const auto& codes = params_.faults.transient_codes;
        d.transient_code = codes.empty() ? "InternalError" : codes[fault_rng_() % codes.size()];
    }
    return d;
}

std::chrono::milliseconds gateway::draw_fault_delay(bool slow) {
    const auto& f = params_.faults;
    const auto [lo, hi] = slow ? slow_range(f) : latency_range(f);
    return draw_delay(delay_rng_, lo, hi, slow ? f.slow_shape : f.latency_shape);
}

const std::string& gateway::draw_throttle_code() {
    static const std::string bare = "RequestLimitExceeded";
    const auto& codes = params_.rate_limits.throttle_codes;
    // With windows per region, no refusal is about the account across
    // regions: the global sub-code is left out of the draw.
    const bool per_region = params_.rate_limits.per_region;
    auto counts = [&](const std::string& code) {
        return !per_region || !code.ends_with(".GlobalRegionUinLimitExceeded");
    };
    double total = 0;
    for (const auto& [code, w] : codes)
        if (counts(code)) total += w;
    if (codes.empty() || !(total > 0)) return bare;
    const double x = std::uniform_real_distribution<double>(0.0, total)(throttle_rng_);
    double acc = 0;
    const std::string* last = &bare;
    for (const auto& [code, w] : codes) {
        if (!counts(code)) continue;
        acc += w;
        last = &code;
        if (x < acc) return code;
    }
    return *last;
}

std::string gateway::window_key(const std::string& secret_id, std::string_view action, std::string_view region) const {
    std::string key;
    if (params_.rate_limits.scope == rate_scope::account) {
        auto it = uin_of_.find(secret_id);
        const std::string* issued = it == uin_of_.end() ? sts_.account_of(secret_id) : nullptr;
        key = it != uin_of_.end() ? it->second : issued ? *issued : "key:" + secret_id;
    } else {
        key = "key:" + secret_id;
    }
    key += '\n';
    key += action;
    if (params_.rate_limits.per_region) {
        key += '\n';
        key += region;
    }
    return key;
}

namespace {

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool url_decode(std::string_view in, std::string& out) {
    out.clear();
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '+') {
            out.push_back(' ');
        } else if (in[i] == '%') {
            if (i + 2 >= in.size()) return false;
            const int h = hex_value(in[i + 1]), l = hex_value(in[i + 2]);
            if (h < 0 || l < 0) return false;
            out.push_back(static_cast<char>(h * 16 + l));
            i += 2;
        } else {
            out.push_back(in[i]);
        }
    }
    return true;
}

bool is_index(std::string_view s, std::size_t& idx) noexcept {
    if (s.empty() || s.size() > 4) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), idx);
    return ec == std::errc{} && p == s.data() + s.size();
}

boost::json::value typed_value(std::string_view field, std::string value) {
    if (field == "Limit" || field == "Offset") {
        std::int64_t n = 0;
        auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (ec == std::errc{} && p == value.data() + value.size()) return n;
    }
    if (field == "DeleteBindImages" || field == "AutoStopInstance" || field == "AutoStartInstance" ||
        field == "ReturnBindAutoSnapshotPolicy") {
        if (value == "true") return true;
        if (value == "false") return false;
    }
    return boost::json::string(value);
}

/// Length of the well-formed UTF-8 sequence at s[i], or 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i) noexcept {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) return 1;
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, cp = c & 0x1Fu;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, cp = c & 0x0Fu;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, cp = c & 0x07u;
    else
        return 0;
    if (i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k) {
        const auto cc = static_cast<unsigned char>(s[i + k]);
        if ((cc & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (cc & 0x3Fu);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return n;
}

}  // namespace

bool is_utf8(std::string_view s) noexcept {
    for (std::size_t i = 0; i < s.size();) {
        const auto n = utf8_sequence(s, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

std::string utf8_safe(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const auto n = utf8_sequence(s, i);
        if (n == 0) {
            out += "\xEF\xBF\xBD";
            ++i;
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
    return out;
}

bool query_to_params(std::string_view query, boost::json::object& out, std::string& why) {
    std::string key, value;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (pair.empty()) continue;
        const auto eq = pair.find('=');
        if (!url_decode(pair.substr(0, eq), key) ||
            !url_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), value))
            return why = "bad percent-encoding", false;
        if (!is_utf8(key) || !is_utf8(value)) return why = "a name or value is not UTF-8", false;
        // Walk "A.0.B.1" creating objects / arrays.
        boost::json::value* cur = nullptr;
        std::string_view path = key, last;
        boost::json::object* obj = &out;
        for (;;) {
            const auto dot = path.find('.');
            const std::string_view seg = path.substr(0, dot);
            if (seg.empty()) return why = "empty name in `" + key + "`", false;
            std::size_t idx = 0;
            if (cur && cur->is_array() && is_index(seg, idx)) {
                auto& arr = cur->as_array();
                if (idx > arr.size()) return why = "index gap in `" + key + "`", false;
                if (idx == arr.size()) arr.emplace_back(nullptr);
                cur = &arr[idx];
            } else if (obj) {
                last = seg;
                cur = &(*obj)[seg];
            } else {
                return why = "`" + key + "` mixes a list and a field", false;
            }
            if (dot == std::string_view::npos) break;
            path = path.substr(dot + 1);
            const auto next = path.substr(0, path.find('.'));
            std::size_t ignored = 0;
            if (is_index(next, ignored)) {
                if (cur->is_null()) cur->emplace_array();
                if (!cur->is_array()) return why = "`" + key + "` conflicts with another parameter", false;
                obj = nullptr;
            } else {
                if (cur->is_null()) cur->emplace_object();
                if (!cur->is_object()) return why = "`" + key + "` conflicts with another parameter", false;
                obj = &cur->as_object();
            }
        }
        if (!cur->is_null()) return why = "`" + key + "` given twice or conflicts", false;
        *cur = typed_value(last, value);
    }
    return true;
}

}  // namespace detail
}  // namespace cbs::emu
