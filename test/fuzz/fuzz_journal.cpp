// libFuzzer target: the fleet run journal reader (JSON lines).
//
// Input: the text of a journal file. Checked: a failure is invalid_request
// naming "<source>:<line>"; a success is self-consistent, and the contents,
// written back with the writer's formatters, read back the same.
#include "fuzz_common.hpp"

#include <cbs/error.hpp>
#include <cbs/journal.hpp>

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
    FUZZ_CHECK(out.valid_bytes <= text.size());
    FUZZ_CHECK(out.torn_tail == (out.valid_bytes < text.size()));
    FUZZ_CHECK(out.valid_bytes == 0 || text[out.valid_bytes - 1] == '\n');
    FUZZ_CHECK(out.records >= out.instances.size());
    if (out.records > 0) FUZZ_CHECK(!out.header.run_id.empty());
    if (out.header.run_id.empty()) FUZZ_CHECK(out.instances.empty() && out.header.name_prefix.empty());
    for (const auto& [id, e] : out.instances) {
        FUZZ_CHECK(!id.empty());
        FUZZ_CHECK(e.state.empty() || (cbs::is_journal_state(e.state) && e.state != "deleted"));
        if (e.intents == 0) FUZZ_CHECK(e.state != "intent" && e.last_intent_unix_ms == 0);
    }
    // The valid prefix parses to the same contents, without a torn tail.
    cbs::journal_contents prefix;
    cbs::diagnostics diag_p;
    FUZZ_CHECK(!cbs::parse_journal(text.substr(0, out.valid_bytes), "prefix", prefix, diag_p));
    FUZZ_CHECK(!prefix.torn_tail && prefix.records == out.records);
    if (out.header.run_id.empty()) return 0;

    // Round trip through the writer's format: per instance, its deletions,
    // its intents, then its last state.
    std::string again = cbs::format_journal_header(out.header);
    for (const auto& [id, e] : out.instances) {
        for (const auto& g : e.deleted_group_ids)
            again += cbs::format_journal_record({"deleted", id, e.group_name, g, 0});
        for (unsigned i = 0; i < e.intents; ++i)
            again += cbs::format_journal_record({"intent", id, e.group_name, e.group_id, e.last_intent_unix_ms});
        if (!e.state.empty() && e.state != "intent")
            again += cbs::format_journal_record({e.state, id, e.group_name, e.group_id, 0});
    }
    cbs::journal_contents back;
    cbs::diagnostics diag2;
    FUZZ_CHECK(!cbs::parse_journal(again, "again", back, diag2));
    FUZZ_CHECK(back.header.run_id == out.header.run_id && back.header.name_prefix == out.header.name_prefix &&
               back.header.region == out.header.region && back.header.endpoint == out.header.endpoint &&
               back.header.secret_id_fingerprint == out.header.secret_id_fingerprint);
    FUZZ_CHECK(back.instances.size() == out.instances.size());
    for (const auto& [id, e] : out.instances) {
        const auto it = back.instances.find(id);
        FUZZ_CHECK(it != back.instances.end());
        const auto& b = it->second;
        FUZZ_CHECK(b.state == e.state && b.group_name == e.group_name && b.group_id == e.group_id &&
                   b.intents == e.intents && b.deleted_group_ids == e.deleted_group_ids);
        if (e.intents > 0) FUZZ_CHECK(b.last_intent_unix_ms == e.last_intent_unix_ms);
    }
    return 0;
}
