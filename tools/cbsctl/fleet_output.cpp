// cbsctl snapshot-fleet / demo: report file, summary, JSON printing, progress.
#include "fleet_output.hpp"

#include <boost/json/serialize.hpp>

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace cbsctl {
namespace {

std::string errno_text(int err) {
    return std::string(std::strerror(err)) + " (errno " + std::to_string(err) + ")";
}

std::string dir_of(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

// ---- report file ------------------------------------------------------------

report_file::report_file(std::string path, std::string option) : path_(std::move(path)), option_(std::move(option)) {
    if (path_.empty()) throw usage_error(option_ + " needs a file name (or - for standard output)");
    if (is_stdout()) return;
    target_ = path_;
    if (path_.starts_with("/dev/") || path_.starts_with("/proc/"))
        throw usage_error(option_ + " '" + path_ + "' is a device or process file, not a regular file (use " + option_ +
                          " - for standard output)");
    struct stat st {};
    if (::lstat(path_.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
        // Follow a symlink to its file, so the link is kept and the file replaced.
        char buf[PATH_MAX];
        if (::realpath(path_.c_str(), buf) == nullptr)
            throw usage_error(option_ + " '" + path_ +
                              "' is a symbolic link that cannot be followed: " + errno_text(errno));
        target_ = buf;
    }
    if (target_.starts_with("/dev/") || target_.starts_with("/proc/"))
        throw usage_error(option_ + " '" + path_ + "' is a device or process file, not a regular file (use " + option_ +
                          " - for standard output)");
    if (::stat(target_.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
        throw usage_error(option_ + " '" + path_ + "' exists and is not a regular file (use " + option_ +
                          " - for standard output)");
    if (base_of(target_).empty() || target_.back() == '/')
        throw usage_error(option_ + " '" + path_ + "' names a directory, not a file");
    std::string tmpl = dir_of(target_) + "/." + base_of(target_) + ".XXXXXX";
    fd_ = ::mkstemp(tmpl.data());
    if (fd_ < 0)
        throw usage_error("cannot write " + option_ + " '" + path_ + "': cannot create a file in '" + dir_of(target_) +
                          "': " + errno_text(errno));
    temp_ = tmpl;
    const mode_t mask = ::umask(0);
    ::umask(mask);
    ::fchmod(fd_, 0666 & ~mask);  // a report is not secret: the usual mode of a new file
}

report_file::~report_file() {
    abandon();
}

void report_file::abandon() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (!temp_.empty()) ::unlink(temp_.c_str());
    temp_.clear();
}

std::string report_file::commit(const std::string& text) {
    if (is_stdout()) {
        std::cout << text << std::flush;
        return std::cout ? "" : "cannot write the report to standard output";
    }
    if (fd_ < 0) return "the report '" + path_ + "' was already written";
    std::size_t done = 0;
    while (done < text.size()) {
        auto n = ::write(fd_, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return "cannot write report '" + temp_ + "': " + errno_text(errno);
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd_) != 0) return "cannot sync report '" + temp_ + "': " + errno_text(errno);
    ::close(fd_);
    fd_ = -1;
    if (std::rename(temp_.c_str(), target_.c_str()) != 0)
        return "cannot rename '" + temp_ + "' to report '" + path_ + "': " + errno_text(errno);
    temp_.clear();
    // The rename is durable only once the directory is.
    int dfd = ::open(dir_of(target_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        const int rc = ::fsync(dfd);
        const int err = errno;
        ::close(dfd);
        if (rc != 0) return "cannot sync the directory of report '" + path_ + "': " + errno_text(err);
    }
    return "";
}

// ---- JSON -------------------------------------------------------------------

namespace {

void put_json(std::string& out, const boost::json::value& v, int decimals) {
    switch (v.kind()) {
        case boost::json::kind::double_: {
            const double d = v.get_double();
            if (!std::isfinite(d)) {
                out += "null";
                return;
            }
            char buf[64];
            std::snprintf(buf, sizeof buf, "%.*f", decimals, d);
            out += buf;
            return;
        }
        case boost::json::kind::object: {
            out += '{';
            bool first = true;
            for (const auto& kv : v.get_object()) {
                if (!first) out += ',';
                first = false;
                out += boost::json::serialize(boost::json::string_view(kv.key()));
                out += ':';
                put_json(out, kv.value(), decimals);
            }
            out += '}';
            return;
        }
        case boost::json::kind::array: {
            out += '[';
            bool first = true;
            for (const auto& e : v.get_array()) {
                if (!first) out += ',';
                first = false;
                put_json(out, e, decimals);
            }
            out += ']';
            return;
        }
        default:
            out += boost::json::serialize(v);
            return;
    }
}

}  // namespace

std::string json_text(const boost::json::value& v, int decimals) {
    std::string out;
    put_json(out, v, decimals);
    return out;
}

// ---- summary and exit status --------------------------------------------------

void print_fleet_summary(std::ostream& os, const cbs::fleet_report& r, const std::string& journal,
                         const std::string& report) {
    const auto& s = r.summary;
    if (r.shard_count > 1)
        os << "cbsctl: run " << r.run_id << ": shard " << r.shard_index << "/" << r.shard_count << ": " << s.instances
           << " of the " << r.listed_instances
           << " instances listed or found are this shard's (the other shards cover the rest; cbsctl report merge "
              "combines the reports)\n";
    os << "cbsctl: run " << r.run_id << ": " << s.instances << " instances: " << s.normal << " normal, " << s.created
       << " created (not seen NORMAL), " << s.skipped << " skipped, " << s.failed << " failed, " << s.unknown
       << " unknown, " << s.pending << " never started (pending)\n"
       << "cbsctl: duplicates: " << s.duplicates_found << " found, " << s.duplicates_deleted << " deleted; "
       << s.creates_sent << " creates sent, " << s.adopted << " groups found from an earlier attempt\n"
       << "cbsctl: discovery " << std::fixed << std::setprecision(1) << s.discover_s << " s, creates " << s.create_s
       << " s, total " << s.total_s << " s\n";
    constexpr std::size_t max_lines = 20;  // the report has them all
    std::size_t shown = 0, more = 0;
    for (const auto& i : r.instances) {
        const bool bad = i.outcome == cbs::instance_outcome::failed || i.outcome == cbs::instance_outcome::unknown;
        if (!bad && i.duplicate_group_ids.empty()) continue;
        if (shown == max_lines) {
            ++more;
            continue;
        }
        ++shown;
        os << "cbsctl:   " << i.instance_id << ": " << to_string(i.outcome);
        if (!i.error_name.empty()) os << ": " << i.error_name;
        if (!i.error_message.empty()) os << ": " << i.error_message;
        if (!i.duplicate_group_ids.empty()) {
            os << " [groups besides " << (i.group_id.empty() ? "?" : i.group_id) << ":";
            for (const auto& g : i.duplicate_group_ids) os << " " << g;
            if (!i.deleted_group_ids.empty()) {
                os << "; deleted:";
                for (const auto& g : i.deleted_group_ids) os << " " << g;
            }
            os << "]";
        }
        os << "\n";
    }
    if (more) os << "cbsctl:   ... and " << more << " more (see the report)\n";
    if (r.interrupted) os << "cbsctl: interrupted: " << s.pending << " instances never started\n";
    if (!r.journal_error.empty())
        os << "cbsctl: the journal failed, no create was sent after it: " << r.journal_error << "\n";
    if (!r.sweep_error.empty()) os << "cbsctl: the final duplicate sweep failed: " << r.sweep_error << "\n";
    if (!r.all_ok) {
        os << "cbsctl: re-run with --run-id " << r.run_id;
        if (r.shard_count > 1) os << " --shard " << r.shard_index << "/" << r.shard_count;
        os << " to finish or check this run\n";
    }
    if (!journal.empty()) os << "cbsctl: journal: " << journal << "\n";
    os << "cbsctl: report: " << report << "\n";
}

int fleet_exit_status(const cbs::fleet_report& r, bool signalled) {
    if (r.interrupted || signalled) return exit_interrupted;
    return r.all_ok && r.journal_error.empty() && r.sweep_error.empty() ? exit_ok : exit_failed;
}

// ---- progress ---------------------------------------------------------------

progress_display::progress_display(bool quiet) : quiet_(quiet), tty_(::isatty(2) == 1) {}

void progress_display::operator()(const cbs::fleet_event& e) {
    using k = cbs::fleet_event;
    switch (e.what) {
        case k::planned:
            ++planned_;
            break;
        case k::created:
        case k::adopted:
            ++created_;
            break;
        case k::normal:
            ++normal_;
            break;
        case k::failed:
        case k::unknown:
            ++failed_;
            break;
        case k::retrying:
            ++retries_;
            break;
        case k::duplicate:
            ++duplicates_;
            break;
        default:
            break;
    }
    if (quiet_) return;
    if (!tty_) {  // plain lines: the events worth a line
        const char* what = e.what == k::failed      ? "failed"
                           : e.what == k::unknown   ? "outcome unknown"
                           : e.what == k::adopted   ? "adopted existing group"
                           : e.what == k::duplicate ? "duplicate group found"
                           : e.what == k::deleted   ? "duplicate group deleted"
                                                    : nullptr;
        if (what) std::cerr << "cbsctl: " << e.instance_id << ": " << what << " " << e.detail << "\n";
        if (e.what == k::created && created_ % 100 == 0) line(false);
        return;
    }
    line(true);
}

void progress_display::finish() {
    if (!quiet_ && tty_) std::cerr << "\n";
}

void progress_display::line(bool rewrite) {
    auto now = std::chrono::steady_clock::now();
    if (rewrite && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    double secs = std::chrono::duration<double>(now - start_).count();
    double rate = secs > 0 ? static_cast<double>(created_) / secs : 0;
    std::ostringstream os;
    os << "created " << created_ << "/" << planned_ << "  normal " << normal_ << "  failed " << failed_ << "  retries "
       << retries_ << "  duplicates " << duplicates_ << "  " << std::fixed << std::setprecision(1) << rate << "/s";
    if (rate > 0 && planned_ > created_)
        os << "  ETA " << static_cast<int>(static_cast<double>(planned_ - created_) / rate) << "s";
    std::cerr << (rewrite ? "\r\033[K" : "") << "cbsctl: " << os.str() << (rewrite ? "" : "\n") << std::flush;
}

}  // namespace cbsctl
