// cbsctl snapshot-fleet / demo: the report file, the summary, JSON printing,
// the progress display and the exit status.
#pragma once

#include "cli.hpp"

#include <cbs/fleet.hpp>

#include <boost/json/value.hpp>

#include <chrono>
#include <iosfwd>
#include <string>

namespace cbsctl {

/// Exit status of an interrupted run (Ctrl-C / SIGTERM): 128 + SIGINT, as shells do.

/// The report destination, checked before any call: "-" is standard output;
/// a path must not exist as anything but a regular file (a symlink to one is
/// followed), and a temporary file is created at once in its directory, so an
/// unwritable place is found before anything is created. commit() writes the
/// temporary, syncs it, renames it over the path and syncs the directory: the
/// report is whole or absent, never half-written. The destructor removes an
/// uncommitted temporary.
class report_file {
public:
    /// Throws usage_error naming the path (and errno) if it cannot be written;
    /// `option` names the option in messages (--report, --out).
    explicit report_file(std::string path, std::string option = "--report");
    ~report_file();
    report_file(const report_file&) = delete;
    report_file& operator=(const report_file&) = delete;

    bool is_stdout() const { return path_ == "-"; }
    /// For messages: the path, or "standard output".
    std::string display() const { return is_stdout() ? "standard output" : path_; }
    /// Writes `text` whole. Returns "" or what failed (naming the path and errno).
    std::string commit(const std::string& text);
    /// Removes the temporary (the run ends without a report).
    void abandon();

private:
    std::string path_;    // as given
    std::string option_;  // the option that named it, for messages
    std::string target_;  // what is renamed over (a symlink resolved)
    std::string temp_;    // the temporary in target_'s directory
    int fd_ = -1;
};

/// JSON text with numbers people can read: a double is printed with fixed
/// decimals ("6.006", never "6.006124675E0"); NaN and infinities as null.
std::string json_text(const boost::json::value& v, int decimals = 3);

/// The summary on stderr: every count (duplicates, unknown, never started
/// included), the instances that need attention, the run id, the journal and
/// the report.
void print_fleet_summary(std::ostream& os, const cbs::fleet_report& r, const std::string& journal,
                         const std::string& report);

/// The exit status of a finished run: 130 interrupted, 0 all done, else 1
/// (failed, unknown, duplicated, pending, a journal or sweep error).
int fleet_exit_status(const cbs::fleet_report& r, bool signalled);

/// Progress display: a rewritten line on a terminal, plain lines otherwise.
class progress_display {
public:
    explicit progress_display(bool quiet);
    void operator()(const cbs::fleet_event& e);
    void finish();

private:
    void line(bool rewrite);
    bool quiet_, tty_;
    std::size_t planned_ = 0, created_ = 0, normal_ = 0, failed_ = 0, retries_ = 0, duplicates_ = 0;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_{};
};

}  // namespace cbsctl
