// cbsctl: plain output for listing commands: aligned tables for people,
// tab-separated lines for scripts (cut, awk), and field lists.
//
//   print_table(std::cout, {"GROUP ID", "NAME"}, {{"csnap-1", "a"}, {"csnap-2", "b"}});
//   // GROUP ID  NAME
//   // csnap-1   a
//   print_text(std::cout, rows);   // csnap-1<TAB>a
//
// Every cell goes through printable_cell(): names and messages come from the
// service (or whoever created the resource), so a control character in one
// must not move the cursor, clear the screen or split a line. JSON output is
// left to Boost.JSON (boost::json::serialize), which escapes by itself.
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cbsctl {

/// `cell` with every control character (below 0x20, and DEL) shown as '?';
/// UTF-8 is kept as it is. An empty cell becomes "-" so columns never look
/// shifted (the callers pass "-" themselves for "none" as well).
std::string printable_cell(std::string_view cell);

/// Display width of `s`: its UTF-8 code points (wide East Asian characters
/// count one, as most tables do; the alignment may then be off by a little).
std::size_t display_width(std::string_view s);

/// An aligned table: the header line, then one line per row; each column is
/// as wide as its widest cell, columns two spaces apart, the last one not
/// padded (no trailing blanks). Rows shorter than the header get "-" cells.
/// No rows: the header alone.
void print_table(std::ostream& os, const std::vector<std::string>& headers,
                 const std::vector<std::vector<std::string>>& rows);

/// One line per row, its cells separated by a tab; a tab inside a cell is
/// shown as a space (and control characters as '?'), so the columns can be
/// cut reliably. No header.
void print_text(std::ostream& os, const std::vector<std::vector<std::string>>& rows);

/// "Field:  value" lines, the values aligned (for one resource in detail).
void print_fields(std::ostream& os, const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace cbsctl
