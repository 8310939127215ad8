// cbs-async: the fleet run journal, an append-only JSON-lines file that
// records what a run intended and created, so that running it again with the
// same run id resumes without creating anything twice.
//
// Format (one JSON object per line):
//   {"type":"header","version":2,"run_id":..,"name_prefix":..,"region":..,
//    "endpoint":..,"secret_id_fingerprint":..[,"shard":"2/3"]}  first line
//   {"type":"intent","instance":"ins-..","name":"..","ms":1764...}
//   {"type":"created","instance":"ins-..","name":"..","group_id":"..","ms":..}
// Record types: intent, created, normal, unknown, failed, skipped, deleted.
// The reader also accepts the version-1 format (a {"type":"run"} header and a
// run_id in every record).
//
// Durability: records are queued by append() (which never touches the disk)
// and written by a writer thread that syncs them in groups (one fdatasync for
// every record queued while the previous sync ran). when_durable() says when a
// record is on disk. A crash loses at most the records not yet durable; a
// record torn by a crash is the file's last line, which the reader ignores
// and the next open truncates before appending.
//
// One run at a time: the file journal holds an exclusive flock for as long as
// it is open; a second open fails with client_errc::run_in_progress.
#pragma once

#include <cbs/error.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cbs {

/// Identity of a run, written as the journal's first line; a resume with
/// different values is client_errc::invalid_config naming the field
/// ("journal X was written for --name-prefix 'a'; this run has 'b'").
struct journal_header {
    std::string run_id, name_prefix, region, endpoint;
    std::string secret_id_fingerprint;  ///< first 16 hex of SHA-256(SecretId); never the key
    /// The run's shard, "<index>/<count>" (fleet_params::shard_index /
    /// shard_count); empty when the fleet is not split (1/1). Compared on
    /// every resume: one shard never resumes another's journal.
    std::string shard = {};
};

/// First 16 hex digits of SHA-256(secret_id): tells two credentials apart
/// without recording either.
std::string secret_id_fingerprint(std::string_view secret_id);

/// States: "intent" (a create is about to be sent: written and durable BEFORE
/// the send), "created", "normal", "unknown", "failed", "skipped", "deleted"
/// (the sweep deleted a duplicate: group_id is the deleted group).
struct journal_record {
    std::string state, instance_id, group_name, group_id;
    std::int64_t unix_ms = 0;  ///< wall-clock time of the record
};

/// True for the seven record states above.
bool is_journal_state(std::string_view state) noexcept;

/// What the journal knows of one instance (last state wins; "deleted" does
/// not change the state, it adds to deleted_group_ids and clears group_id if
/// it was the deleted group).
struct journal_entry {
    std::string group_name, group_id, state;
    std::int64_t last_intent_unix_ms = 0;  ///< 0: no create ever intended
    unsigned intents = 0;                  ///< creates intended (sent or about to be)
    std::vector<std::string> deleted_group_ids;
};

struct journal_contents {
    journal_header header;  ///< empty run_id: no journal / empty file
    std::map<std::string, journal_entry, std::less<>> instances;
    std::size_t records = 0;      ///< instance records (the header is not counted)
    std::size_t valid_bytes = 0;  ///< length of the text up to the last complete line
    bool torn_tail = false;       ///< a last line without its newline was ignored
};

/// Pure parser (tests, fuzzing). `source` names the text in messages. A torn
/// last line (no trailing newline) is ignored (torn_tail); any other malformed
/// line is client_errc::invalid_request naming "<source>:<line>", as are a
/// record before the header, a second header and a record of another run id.
error_code parse_journal(std::string_view text, std::string_view source, journal_contents& out, diagnostics& diag);

/// The header line / one record line, each ending in '\n' (what the writers
/// write; parse_journal reads them back).
std::string format_journal_header(const journal_header& h);
std::string format_journal_record(const journal_record& r);

/// Compares a journal's header with this run's: the first field that differs
/// is client_errc::invalid_config naming it and both values ("journal 'P' was
/// written for --region 'a'; this run has 'b'"). The region, endpoint and
/// fingerprint are compared only when the journal has them (version 1 did not).
error_code check_journal_header(const journal_header& in_journal, const journal_header& this_run, std::string_view path,
                                diagnostics& diag);

/// Where the engine's records go; injectable (tests simulate EIO, slow fsync).
class journal_sink {
public:
    virtual ~journal_sink() = default;
    /// Queues one record; never blocks on disk I/O. Returns its sequence
    /// number (1, 2, ...).
    virtual std::uint64_t append(journal_record rec) = 0;
    /// Calls done(ec, diag) exactly once, when every record up to `seq` is
    /// durable, or with the sticky error (client_errc::journal_failed, diag
    /// naming the path and errno) once the journal failed. May be called from
    /// another thread (the writer's) or inline: the caller posts back to its
    /// own executor.
    virtual void when_durable(std::uint64_t seq, std::function<void(error_code, diagnostics)> done) = 0;
    /// The first error, sticky ({} while healthy).
    virtual error_code failed(diagnostics& diag) const = 0;
    /// Makes everything appended durable, stops the writer, releases the lock.
    /// Blocks. Idempotent; the destructor calls it.
    virtual void close() = 0;
};

/// The system calls the file journal makes to write and sync, replaceable by
/// tests (a slow or failing fdatasync, a short or failing write). Each has
/// the system call's contract (-1 and errno on failure).
struct file_journal_params {
    /// Default ::write.
    std::function<long(int fd, const void* data, std::size_t size)> write{};
    /// Default ::fdatasync.
    std::function<int(int fd)> sync{};
};

/// The file journal: opens or creates `path`, takes an exclusive non-blocking
/// lock (flock; held: client_errc::run_in_progress naming the path), reads
/// what is there into `existing`, refuses a header mismatch (invalid_config
/// naming the field), truncates a torn tail, writes the header if new
/// (fsyncing the directory), then appends from a writer thread with group
/// commit (many records per fdatasync). Other failures: invalid_config (a
/// malformed journal, naming <path>:<line>) or journal_failed (I/O, naming the
/// path and errno). Returns null on failure.
std::unique_ptr<journal_sink> open_file_journal(const std::string& path, const journal_header& header,
                                                journal_contents& existing, error_code& ec, diagnostics& diag);
std::unique_ptr<journal_sink> open_file_journal(const std::string& path, const journal_header& header,
                                                journal_contents& existing, error_code& ec, diagnostics& diag,
                                                const file_journal_params& params);

/// Reads a journal file without locking it; a missing file is an empty
/// journal (not an error). Malformed: invalid_request naming <path>:<line>.
error_code read_journal(const std::string& path, journal_contents& out, diagnostics& diag);

/// The directory of per-run journals: $CBS_STATE_DIR, else
/// $XDG_STATE_HOME/cbs-async, else $HOME/.local/state/cbs-async (empty if
/// none of these is set).
std::string default_journal_dir();

/// <default_journal_dir()>/<run_id>.journal (empty if there is no
/// directory); with shard_count > 1,
/// <dir>/<run_id>.shard-<index>-of-<count>.journal, so two shards of one run
/// on one host never share a journal.
std::string default_journal_path(std::string_view run_id, std::size_t shard_index = 1, std::size_t shard_count = 1);

/// Creates `dir` and its missing parents (mode 0700). Errors: invalid_config
/// naming the directory and errno.
error_code make_directories(const std::string& dir, diagnostics& diag);

struct memory_journal_params {
    /// Record `fail_from` and every later one fail with EIO (sticky
    /// journal_failed). Default 0: never.
    std::uint64_t fail_from = 0;
    /// Records become durable this long after they are appended (a writer
    /// thread syncs them in groups, like the file journal). Default 0: at once.
    std::chrono::milliseconds durable_delay{0};
    /// Records become durable only when release() is called. Default false.
    bool hold = false;
};

/// An in-memory sink for tests: records kept in order; can be told to fail
/// from record N (EIO) or to delay durability. Thread-safe.
class memory_journal final : public journal_sink {
public:
    explicit memory_journal(memory_journal_params params = {}, journal_header header = {});
    ~memory_journal() override;
    memory_journal(const memory_journal&) = delete;
    memory_journal& operator=(const memory_journal&) = delete;

    std::uint64_t append(journal_record rec) override;
    void when_durable(std::uint64_t seq, std::function<void(error_code, diagnostics)> done) override;
    error_code failed(diagnostics& diag) const override;
    void close() override;

    /// With hold: makes every record appended so far durable (callbacks run
    /// on the calling thread).
    void release();
    /// The records accepted (not those refused by fail_from), in order.
    std::vector<journal_record> records() const;
    /// The highest durable sequence number.
    std::uint64_t durable() const;
    /// Groups made durable (one per "sync").
    std::size_t syncs() const;
    /// The journal as a file would hold it (header + accepted records).
    std::string text() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace cbs
