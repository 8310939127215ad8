// cbsctl call: tccli-style parameters, --all-pages and --output table
// (call_extras.hpp).
#include "call_extras.hpp"

#include "cli.hpp"
#include "table.hpp"

#include <CLI/CLI.hpp>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cmath>
#include <cstdio>
#include <ostream>
#include <set>
#include <unordered_set>

namespace cbsctl::call_detail {

namespace {

bool upper(char c) {
    return c >= 'A' && c <= 'Z';
}
bool alnum(char c) {
    return upper(c) || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/// A scalar as a cell: strings as they are, integers in full, other numbers
/// without an exponent where possible, null as "-". Arrays and objects: "".
std::string cell_text(const boost::json::value& v) {
    switch (v.kind()) {
        case boost::json::kind::string:
            return std::string(v.get_string());
        case boost::json::kind::int64:
            return std::to_string(v.get_int64());
        case boost::json::kind::uint64:
            return std::to_string(v.get_uint64());
        case boost::json::kind::double_: {
            char buf[64];
            std::snprintf(buf, sizeof buf, "%.6g", v.get_double());
            return buf;
        }
        case boost::json::kind::bool_:
            return v.get_bool() ? "true" : "false";
        case boost::json::kind::null:
            return "-";
        default:
            return "";
    }
}

bool scalar(const boost::json::value& v) {
    return !v.is_array() && !v.is_object();
}

/// What identifies an item across pages: its first "...Id" string member,
/// else its whole JSON text.
std::string item_key(const boost::json::value& item) {
    if (const auto* o = item.if_object())
        for (const auto& [k, v] : *o)
            if (k.ends_with("Id") && v.is_string()) return std::string(k) + "=" + std::string(v.get_string());
    return boost::json::serialize(item);
}

}  // namespace

bool is_action_name(const std::string& action) {
    if (action.empty() || !upper(action.front())) return false;
    for (char c : action)
        if (!alnum(c)) return false;
    return true;
}

void merge_tccli_params(const std::vector<std::string>& extras, boost::json::object& body) {
    std::set<std::string> given;
    for (std::size_t i = 0; i < extras.size(); ++i) {
        const std::string& tok = extras[i];
        if (!(tok.size() > 2 && tok.starts_with("--") && upper(tok[2]))) throw CLI::ExtrasError({tok});
        const auto eq = tok.find('=');
        const std::string name = tok.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
        const std::string option = "--" + name;
        for (char c : name)
            if (!alnum(c)) throw usage_error(option + ": a parameter name is letters and digits, like --DiskIds");
        std::string value;
        if (eq != std::string::npos) {
            value = tok.substr(eq + 1);
        } else {
            if (i + 1 >= extras.size()) throw usage_error(option + " needs a value (JSON, or a plain string)");
            value = extras[++i];
        }
        if (!given.insert(name).second) throw usage_error(option + " is given twice");
        if (body.contains(name))
            throw usage_error(option + " conflicts with \"" + std::string(name) + "\" in --body: give it in one place");
        boost::system::error_code ec;
        auto v = boost::json::parse(value, ec);
        if (ec) {
            // Meant as JSON (an array, object or quoted string) but broken:
            // refused, rather than sent as a string the service would refuse
            // less clearly.
            if (!value.empty() && (value.front() == '[' || value.front() == '{' || value.front() == '"'))
                throw usage_error(option +
                                  " is not valid JSON: " + ec.message().append(", got '").append(value).append("'"));
            v = boost::json::string(value);
        }
        body[name] = std::move(v);
    }
}

std::string set_name(const boost::json::object& answer) {
    for (const auto& [k, v] : answer)
        if (k.ends_with("Set") && v.is_array()) return std::string(k);
    return "";
}

boost::asio::awaitable<cbs::result<boost::json::object>> async_call_all_pages(cbs::client& c, std::string action,
                                                                              boost::json::object body,
                                                                              std::size_t& pages) {
    std::int64_t offset = 0;
    if (const auto* o = body.if_contains("Offset")) {
        if (!o->is_int64() || o->get_int64() < 0)
            throw usage_error("--all-pages: Offset must be a non-negative integer, got " + boost::json::serialize(*o));
        offset = o->get_int64();
    }
    body["Limit"] = 100;  // the documented maximum of every Describe* action
    cbs::result<boost::json::object> out;
    boost::json::array items;
    std::unordered_set<std::string> seen;
    std::string set;
    pages = 0;
    for (;;) {
        body["Offset"] = offset;
        auto page = co_await c.async_call(action, body, cbs::as_result);
        ++pages;
        if (page.ec) co_return page;
        if (pages == 1) set = set_name(page.value);
        if (set.empty()) co_return page;  // nothing to page
        const auto* arr = page.value.at(set).if_array();
        const std::size_t n = arr ? arr->size() : 0;
        std::size_t fresh = 0;
        if (arr)
            for (const auto& item : *arr)
                if (seen.insert(item_key(item)).second) {
                    items.push_back(item);
                    ++fresh;
                }
        const auto* total = page.value.if_contains("TotalCount");
        const std::int64_t total_count = total && total->is_int64() ? total->get_int64() : -1;
        out.value = std::move(page.value);
        out.diag = std::move(page.diag);
        offset += static_cast<std::int64_t>(n);
        if (n == 0 || fresh == 0 || total_count < 0 || offset >= total_count) break;
    }
    out.value[set] = std::move(items);
    co_return out;
}

void print_answer_table(std::ostream& out, std::ostream& err, const boost::json::object& answer) {
    const std::string set = set_name(answer);
    if (set.empty()) {
        std::vector<std::vector<std::string>> rows;
        for (const auto& [k, v] : answer)
            if (scalar(v)) rows.push_back({std::string(k), cell_text(v)});
        print_table(out, {"FIELD", "VALUE"}, rows);
        return;
    }
    const auto& items = answer.at(set).get_array();
    std::vector<std::string> columns;
    std::set<std::string> known;
    for (const auto& item : items)
        if (const auto* o = item.if_object())
            for (const auto& [k, v] : *o)
                if (scalar(v) && known.insert(std::string(k)).second) columns.emplace_back(k);
    if (items.empty() || columns.empty()) {
        err << "cbsctl: " << set << " is empty" << (items.empty() ? "" : " of scalar fields (--output json shows it)")
            << "\n";
        return;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& item : items) {
        std::vector<std::string> row;
        const auto* o = item.if_object();
        for (const auto& col : columns) {
            const auto* v = o ? o->if_contains(col) : nullptr;
            row.push_back(v ? cell_text(*v) : "-");
        }
        rows.push_back(std::move(row));
    }
    print_table(out, columns, rows);
}

}  // namespace cbsctl::call_detail
