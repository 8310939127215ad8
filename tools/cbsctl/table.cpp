// cbsctl: aligned tables, tab-separated lines and field lists (table.hpp).
#include "table.hpp"

#include <algorithm>
#include <ostream>

namespace cbsctl {

std::string printable_cell(std::string_view cell) {
    if (cell.empty()) return "-";
    std::string out;
    out.reserve(cell.size());
    for (char ch : cell) {
        const auto u = static_cast<unsigned char>(ch);
        out += (u < 0x20 || u == 0x7f) ? '?' : ch;
    }
    return out;
}

std::size_t display_width(std::string_view s) {
    // Count the bytes that start a code point (not 10xxxxxx continuations).
    return static_cast<std::size_t>(
        std::count_if(s.begin(), s.end(), [](char ch) { return (static_cast<unsigned char>(ch) & 0xC0) != 0x80; }));
}

void print_table(std::ostream& os, const std::vector<std::string>& headers,
                 const std::vector<std::vector<std::string>>& rows) {
    const std::size_t n = headers.size();
    const auto cell = [&](const std::vector<std::string>& row, std::size_t i) {
        return i < row.size() ? printable_cell(row[i]) : std::string("-");
    };
    std::vector<std::size_t> width(n, 0);
    for (std::size_t i = 0; i < n; ++i) width[i] = display_width(headers[i]);
    for (const auto& row : rows)
        for (std::size_t i = 0; i < n; ++i) width[i] = std::max(width[i], display_width(cell(row, i)));
    const auto line = [&](const std::vector<std::string>& cells) {
        std::string out;
        for (std::size_t i = 0; i < n; ++i) {
            out += cells[i];
            if (i + 1 < n) out.append(width[i] - display_width(cells[i]) + 2, ' ');
        }
        os << out << '\n';
    };
    std::vector<std::string> cells(n);
    for (std::size_t i = 0; i < n; ++i) cells[i] = printable_cell(headers[i]);
    line(cells);
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < n; ++i) cells[i] = cell(row, i);
        line(cells);
    }
}

void print_text(std::ostream& os, const std::vector<std::vector<std::string>>& rows) {
    for (const auto& row : rows) {
        std::string out;
        for (std::size_t i = 0; i < row.size(); ++i) {
            if (i) out += '\t';
            std::string c = row[i];
            std::replace(c.begin(), c.end(), '\t', ' ');
            out += printable_cell(c);
        }
        os << out << '\n';
    }
}

void print_fields(std::ostream& os, const std::vector<std::pair<std::string, std::string>>& fields) {
    std::size_t width = 0;
    for (const auto& [k, v] : fields) width = std::max(width, display_width(k) + 1);
    for (const auto& [k, v] : fields)
        os << k << ':' << std::string(width - display_width(k) - 1 + 2, ' ') << printable_cell(v) << '\n';
}

}  // namespace cbsctl
