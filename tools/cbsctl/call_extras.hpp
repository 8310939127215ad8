// cbsctl call: what goes beyond one call with a --body (internal to cbsctl):
// tccli-style parameters (--DiskIds '["disk-1"]'), every page of a Describe*
// action merged into one answer, and the answer as a table.
#pragma once

#include <cbs/client.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <iosfwd>
#include <string>
#include <vector>

namespace cbsctl::call_detail {

/// Merges the arguments CLI11 left over (App::remaining(), in order) into
/// `body`, as tccli takes them: `--Name VALUE` or `--Name=VALUE` where Name
/// starts with an upper-case letter. VALUE is JSON ('["disk-1"]', 100, true,
/// '{"K":1}'); a value that is not JSON is taken as a plain string, unless it
/// starts with '[', '{' or '"' (it was meant to be JSON: exit 2 with the parse
/// error). A name already in the --body object, or given twice, is exit 2
/// naming it. Anything else left over is an unknown option or an unexpected
/// argument (CLI::ExtrasError, exit 2, as for any command).
void merge_tccli_params(const std::vector<std::string>& extras, boost::json::object& body);

/// True for an action name as the API spells them: an upper-case letter,
/// then letters and digits ("DescribeDisks").
bool is_action_name(const std::string& action);

/// The key of the answer's item list: the first member whose name ends in
/// "Set" and whose value is an array (DiskSet, SnapshotGroupSet); "" if none.
std::string set_name(const boost::json::object& answer);

/// Every page of a Describe* action: Limit 100 from the body's Offset (else
/// 0), until the items reach TotalCount, a page is empty or brings nothing
/// new (items compared by their first "...Id" string member, else by their
/// JSON text). The answer is the last page's with the *Set holding every
/// item and the last TotalCount; `pages` counts the calls. An answer without
/// a *Set array is returned as it is, after one page. On failure: the failing
/// page's error.
boost::asio::awaitable<cbs::result<boost::json::object>> async_call_all_pages(cbs::client& c, std::string action,
                                                                              boost::json::object body,
                                                                              std::size_t& pages);

/// The answer as a table (table.hpp): the *Set's items one per row, their
/// scalar members as columns in the order first seen (nested objects and
/// arrays left out: --output json has them); without a *Set, FIELD and VALUE
/// rows of the answer's scalar members. An empty *Set prints a note on
/// `err` and nothing on `out`.
void print_answer_table(std::ostream& out, std::ostream& err, const boost::json::object& answer);

}  // namespace cbsctl::call_detail
