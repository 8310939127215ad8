// cbs-async: the fleet run journal, an append-only JSON-lines file that
// records what a run planned and created, so that running it again with the
// same run id resumes without creating anything twice.
//
// One record per line, written with a single write(2) and flushed to disk
// (fdatasync) before the call returns, so a crash loses at most the record
// being written; the reader ignores a torn last line.
#pragma once

#include <cbs/error.hpp>

#include <map>
#include <string>
#include <string_view>

namespace cbs {

/// What the journal knows of one instance.
struct journal_entry {
    std::string group_name;
    std::string group_id;  ///< set once created (or adopted)
    std::string state;     ///< "created" | "normal" | "unknown" | "failed"
};

/// The contents of a journal for one run.
struct journal_contents {
    std::string run_id;
    std::string name_prefix;
    std::map<std::string, journal_entry, std::less<>> instances;  ///< by instance id
    std::size_t records = 0;
};

/// Pure parser (tests, fuzzing). `source` names the text in messages. A torn
/// last line (no trailing newline) is ignored; any other malformed line is
/// client_errc::invalid_request naming "<source>:<line>". Records of another
/// run id than the first are an error too (one journal, one run).
error_code parse_journal(std::string_view text, std::string_view source, journal_contents& out,
                         diagnostics& diag);

/// Appends records to a journal file. Not thread-safe; the fleet engine
/// writes from its strand. Blocking (small writes + fdatasync).
class journal_writer {
public:
    journal_writer() = default;
    ~journal_writer();
    journal_writer(const journal_writer&) = delete;
    journal_writer& operator=(const journal_writer&) = delete;

    /// Opens (creating if needed) `path` for appending. If the file is new or
    /// empty, writes the run header. Errors: invalid_config naming the path.
    error_code open(const std::string& path, std::string_view run_id, std::string_view name_prefix,
                    diagnostics& diag);
    bool is_open() const noexcept { return fd_ >= 0; }

    /// Appends one instance record: state "created" | "normal" | "unknown" |
    /// "failed". Returns an error naming the path if the write fails.
    error_code record(std::string_view state, std::string_view instance_id, std::string_view group_name,
                      std::string_view group_id, diagnostics& diag);

private:
    error_code append(const std::string& line, diagnostics& diag);
    int fd_ = -1;
    std::string path_;
    std::string run_id_;
};

/// Reads a journal file; a missing file is an empty journal (not an error).
error_code read_journal(const std::string& path, journal_contents& out, diagnostics& diag);

}  // namespace cbs
