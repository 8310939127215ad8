// cbs-async emulator: reading and checking request parameters as the API
// gateway does (unknown fields, JSON types, required fields, paging).
#include "fleet_detail.hpp"

#include <limits>

namespace cbs::emu::detail {

void fail(std::string code, std::string message) {
    throw api_error{api_failure{std::move(code), std::move(message)}};
}

namespace {

// Appended piecewise: GCC 12 at -O3 warns (-Wrestrict, a false positive,
// GCC PR 105329) on "literal" + std::string here.
std::string quoted(std::string_view name) {
    std::string s;
    s.reserve(name.size() + 2);
    s.append(1, '`').append(name).append(1, '`');
    return s;
}

[[noreturn]] void wrong_type(std::string_view name, std::string_view expected) {
    fail("InvalidParameter",
         "The value type of parameter " + quoted(name) + " is not valid, expected " + std::string(expected) + ".");
}

const json::value* find(const json::object& params, std::string_view name) {
    auto it = params.find(name);
    return it == params.end() ? nullptr : &it->value();
}

// Nested objects (Filters.N, Tags.N) are checked like the top level: an
// unexpected key is an UnknownParameter named with its full path.
void check_known_nested(const json::object& obj, const std::string& path,
                        std::initializer_list<std::string_view> known) {
    for (const auto& kv : obj) {
        bool ok = false;
        for (auto k : known) ok = ok || kv.key() == k;
        if (!ok)
            fail("UnknownParameter",
                 "The parameter " + quoted(path + "." + std::string(kv.key())) + " is not recognized.");
    }
}

}  // namespace

void check_known(const json::object& params, std::initializer_list<std::string_view> known) {
    for (const auto& kv : params) {
        bool ok = false;
        for (auto k : known) ok = ok || kv.key() == k;
        if (!ok) fail("UnknownParameter", "The parameter " + quoted(kv.key()) + " is not recognized.");
    }
}

std::optional<std::string> get_string(const json::object& params, std::string_view name) {
    const auto* v = find(params, name);
    if (!v) return std::nullopt;
    if (!v->is_string()) wrong_type(name, "String");
    return std::string(v->get_string());
}

std::optional<std::vector<std::string>> get_string_array(const json::object& params, std::string_view name) {
    const auto* v = find(params, name);
    if (!v) return std::nullopt;
    if (!v->is_array()) wrong_type(name, "Array of String");
    std::vector<std::string> out;
    out.reserve(v->get_array().size());
    std::size_t i = 0;
    for (const auto& e : v->get_array()) {
        if (!e.is_string()) wrong_type(std::string(name) + "." + std::to_string(i), "String");
        out.emplace_back(e.get_string());
        ++i;
    }
    return out;
}

std::optional<std::int64_t> get_int(const json::object& params, std::string_view name) {
    const auto* v = find(params, name);
    if (!v) return std::nullopt;
    // Strict: "20" or 20.0 are client bugs (the typed SDKs send integers).
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64()) {
        if (v->get_uint64() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            wrong_type(name, "Integer");
        return static_cast<std::int64_t>(v->get_uint64());
    }
    wrong_type(name, "Integer");
}

std::optional<bool> get_bool(const json::object& params, std::string_view name) {
    const auto* v = find(params, name);
    if (!v) return std::nullopt;
    if (!v->is_bool()) wrong_type(name, "Boolean");
    return v->get_bool();
}

std::optional<std::vector<filter>> get_filters(const json::object& params) {
    const auto* v = find(params, "Filters");
    if (!v) return std::nullopt;
    if (!v->is_array()) wrong_type("Filters", "Array of Filter");
    std::vector<filter> out;
    std::size_t i = 0;
    for (const auto& e : v->get_array()) {
        const std::string path = "Filters." + std::to_string(i++);
        if (!e.is_object()) wrong_type(path, "Filter");
        const auto& obj = e.get_object();
        check_known_nested(obj, path, {"Name", "Values"});
        filter f;
        auto name = get_string(obj, "Name");
        if (!name)
            fail("MissingParameter", "The request is missing a required parameter " + quoted(path + ".Name") + ".");
        f.name = *name;
        const auto* values = find(obj, "Values");
        if (!values)
            fail("MissingParameter", "The request is missing a required parameter " + quoted(path + ".Values") + ".");
        if (!values->is_array()) wrong_type(path + ".Values", "Array of String");
        std::size_t j = 0;
        for (const auto& val : values->get_array()) {
            if (!val.is_string()) wrong_type(path + ".Values." + std::to_string(j), "String");
            f.values.emplace_back(val.get_string());
            ++j;
        }
        // An empty Values can match nothing and is always a caller bug.
        if (f.values.empty())
            fail("InvalidParameterValue", "The parameter " + quoted(path + ".Values") + " must not be empty.");
        f.value_set.insert(f.values.begin(), f.values.end());
        out.push_back(std::move(f));
    }
    return out;
}

page get_page(const json::object& params, const std::string& range_code) {
    page p;
    if (auto off = get_int(params, "Offset")) {
        if (*off < 0) fail(range_code, "The parameter `Offset` must be at least 0, got " + std::to_string(*off) + ".");
        p.offset = static_cast<std::size_t>(*off);
    }
    if (auto lim = get_int(params, "Limit")) {
        // Documented range 1..100 (default 20). Limit 0 is rejected: it can
        // only come from a client that forgot to set it.
        if (*lim < 1 || *lim > 100)
            fail(range_code, "The parameter `Limit` must be between 1 and 100, got " + std::to_string(*lim) + ".");
        p.limit = static_cast<std::size_t>(*lim);
    }
    return p;
}

bool well_formed_id(std::string_view id, std::string_view prefix) {
    if (id.size() != prefix.size() + 8 || id.substr(0, prefix.size()) != prefix) return false;
    for (char c : id.substr(prefix.size()))
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
    return true;
}

}  // namespace cbs::emu::detail
