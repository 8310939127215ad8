// libFuzzer target: the fleet run journal reader (JSON lines).
//
// Input: the text of a journal file. Checked: a failure is invalid_request
// naming "<source>:<line>"; a success is self-consistent, and the contents,
// written back in the writer's record format, read back the same.
#include "fuzz_common.hpp"

#include <cbs/error.hpp>
#include <cbs/journal.hpp>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

using cbs_fuzz::as_view;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto text = as_view(data, size);
    cbs::journal_contents out;
    cbs::diagnostics diag;
    const auto ec = cbs::parse_journal(text, "fuzz.journal", out, diag);
    if (ec) {
        FUZZ_CHECK(ec == cbs::make_error_code(cbs::client_errc::invalid_request));
        FUZZ_CHECK(diag.client_message.rfind("fuzz.journal:", 0) == 0);
        return 0;
    }
    FUZZ_CHECK(out.records >= out.instances.size());
    if (out.records > 0) FUZZ_CHECK(!out.run_id.empty());
    if (out.run_id.empty()) FUZZ_CHECK(out.instances.empty() && out.name_prefix.empty());
    for (const auto& [id, e] : out.instances) {
        FUZZ_CHECK(!id.empty());
        FUZZ_CHECK(e.state == "created" || e.state == "normal" || e.state == "unknown" || e.state == "failed");
    }
    if (out.run_id.empty()) return 0;

    // Round trip through the writer's format (journal_writer::open/record).
    std::string again =
        boost::json::serialize(boost::json::object{{"type", "run"}, {"run_id", out.run_id}, {"name_prefix", out.name_prefix}}) + "\n";
    for (const auto& [id, e] : out.instances) {
        boost::json::object o{{"type", e.state}, {"run_id", out.run_id}, {"instance", id}, {"name", e.group_name}};
        if (!e.group_id.empty()) o["group_id"] = e.group_id;
        again += boost::json::serialize(o) + "\n";
    }
    cbs::journal_contents back;
    cbs::diagnostics diag2;
    FUZZ_CHECK(!cbs::parse_journal(again, "again", back, diag2));
    FUZZ_CHECK(back.run_id == out.run_id);
    FUZZ_CHECK(back.name_prefix == out.name_prefix);
    FUZZ_CHECK(back.instances.size() == out.instances.size());
    for (const auto& [id, e] : out.instances) {
        const auto it = back.instances.find(id);
        FUZZ_CHECK(it != back.instances.end());
        FUZZ_CHECK(it->second.state == e.state && it->second.group_name == e.group_name &&
                   it->second.group_id == e.group_id);
    }
    return 0;
}
