// The file journal: an exclusive flock, a torn tail truncated, then a writer
// thread with group commit. append() only takes a mutex, so the engine's I/O
// thread never waits for the disk; the writer takes every line queued while
// it was syncing and writes and syncs them together.
#include <cbs/journal.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

namespace cbs {
namespace {

std::string errno_text(int err) {
    return std::string(std::strerror(err)) + " (errno " + std::to_string(err) + ")";
}

error_code io_error(diagnostics& diag, std::string what, const std::string& path, int err) {
    diag.client_message = std::move(what) + " '" + path + "': " + errno_text(err);
    return client_errc::journal_failed;
}

std::string parent_dir(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

/// fsync of a directory, so that a file created (or renamed) in it survives
/// a crash. Returns errno or 0.
int sync_dir(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno;
    int rc = ::fsync(fd) == 0 ? 0 : errno;
    ::close(fd);
    return rc;
}

class file_journal final : public journal_sink {
public:
    file_journal(int fd, std::string path, file_journal_params params)
        : fd_(fd), path_(std::move(path)), params_(std::move(params)) {
        writer_ = std::thread([this] { run(); });
    }
    ~file_journal() override { close(); }

    std::uint64_t append(journal_record rec) override {
        auto line = format_journal_record(rec);
        std::lock_guard lk(mu_);
        const auto seq = ++appended_;
        if (closed_ && !ec_) fail_locked(client_errc::journal_failed, "record appended after the journal was closed");
        if (ec_) return seq;  // nothing more is written once the journal failed
        queue_ += line;
        queued_seq_ = seq;
        cv_.notify_one();
        return seq;
    }

    void when_durable(std::uint64_t seq, std::function<void(error_code, diagnostics)> done) override {
        std::unique_lock lk(mu_);
        if (seq > durable_ && !ec_) {
            waiters_.emplace(seq, std::move(done));
            return;
        }
        // Durable, or never will be: answer inline (outside the lock).
        error_code ec = seq <= durable_ ? error_code{} : ec_;
        diagnostics diag = ec ? diag_ : diagnostics{};
        lk.unlock();
        done(ec, std::move(diag));
    }

    error_code failed(diagnostics& diag) const override {
        std::lock_guard lk(mu_);
        if (ec_) diag = diag_;
        return ec_;
    }

    void close() override {
        {
            std::lock_guard lk(mu_);
            if (closed_) return;
            closed_ = true;
            cv_.notify_one();
        }
        if (writer_.joinable()) writer_.join();
        // The writer drained the queue; anything still waiting can never
        // become durable (it failed): answer it.
        std::multimap<std::uint64_t, std::function<void(error_code, diagnostics)>> left;
        error_code ec;
        diagnostics diag;
        {
            std::lock_guard lk(mu_);
            left.swap(waiters_);
            ec = ec_ ? ec_ : make_error_code(client_errc::journal_failed);
            diag = diag_;
        }
        for (auto& [seq, done] : left) done(ec, diag);
        if (fd_ >= 0) ::close(fd_);  // releases the flock
        fd_ = -1;
    }

private:
    void fail_locked(error_code ec, std::string message) {
        if (ec_) return;
        ec_ = ec;
        diag_.client_message = std::move(message);
    }

    void run() {
        std::unique_lock lk(mu_);
        for (;;) {
            cv_.wait(lk, [&] { return !queue_.empty() || closed_; });
            if (queue_.empty()) return;  // closed and drained
            std::string batch;
            batch.swap(queue_);
            const auto last = queued_seq_;
            lk.unlock();
            diagnostics diag;
            error_code ec = write_and_sync(batch, diag);
            lk.lock();
            std::multimap<std::uint64_t, std::function<void(error_code, diagnostics)>> ready;
            if (ec) {
                fail_locked(ec, diag.client_message);
                queue_.clear();
                ready.swap(waiters_);  // none of them can become durable now
            } else {
                durable_ = last;
                auto end = waiters_.upper_bound(durable_);
                ready.insert(std::make_move_iterator(waiters_.begin()), std::make_move_iterator(end));
                waiters_.erase(waiters_.begin(), end);
            }
            const error_code sticky = ec_;
            const diagnostics sticky_diag = diag_;
            const auto durable = durable_;
            lk.unlock();
            for (auto& [seq, done] : ready)
                if (seq <= durable)
                    done({}, {});
                else
                    done(sticky, sticky_diag);
            lk.lock();
            if (ec_) return;
        }
    }

    error_code write_and_sync(const std::string& batch, diagnostics& diag) {
        std::size_t done = 0;
        while (done < batch.size()) {
            long n = params_.write ? params_.write(fd_, batch.data() + done, batch.size() - done)
                                   : ::write(fd_, batch.data() + done, batch.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return io_error(diag, "cannot write journal", path_, n < 0 ? errno : EIO);
            done += static_cast<std::size_t>(n);
        }
        // A failed fdatasync is not retried: the kernel may have dropped the
        // dirty pages, so a later success would prove nothing.
        if ((params_.sync ? params_.sync(fd_) : ::fdatasync(fd_)) != 0)
            return io_error(diag, "cannot sync journal", path_, errno);
        return {};
    }

    int fd_;
    const std::string path_;
    const file_journal_params params_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::string queue_;             // lines appended, not yet handed to write(2)
    std::uint64_t appended_ = 0;    // last sequence number given out
    std::uint64_t queued_seq_ = 0;  // last sequence number in queue_
    std::uint64_t durable_ = 0;     // every record up to this one is synced
    bool closed_ = false;
    error_code ec_;
    diagnostics diag_;
    std::multimap<std::uint64_t, std::function<void(error_code, diagnostics)>> waiters_;
    std::thread writer_;
};

}  // namespace

std::unique_ptr<journal_sink> open_file_journal(const std::string& path, const journal_header& header,
                                                journal_contents& existing, error_code& ec, diagnostics& diag) {
    return open_file_journal(path, header, existing, ec, diag, {});
}

std::unique_ptr<journal_sink> open_file_journal(const std::string& path, const journal_header& header,
                                                journal_contents& existing, error_code& ec, diagnostics& diag,
                                                const file_journal_params& params) {
    existing = {};
    ec = {};
    if (header.run_id.empty()) {
        diag.client_message = "a journal needs a run id";
        ec = client_errc::invalid_config;
        return nullptr;
    }
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        diag.client_message = "cannot open journal '" + path + "': " + errno_text(errno);
        ec = client_errc::invalid_config;
        return nullptr;
    }
    auto fail = [&](error_code e) -> std::unique_ptr<journal_sink> {
        ::close(fd);
        ec = e;
        return nullptr;
    };
    struct stat st {};
    if (::fstat(fd, &st) != 0) return fail(io_error(diag, "cannot stat journal", path, errno));
    if (!S_ISREG(st.st_mode)) {
        diag.client_message = "journal '" + path + "' is not a regular file";
        return fail(client_errc::invalid_config);
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            diag.client_message =
                "journal '" + path + "' is locked by a run in progress (wait for it to end, or use another --run-id)";
            return fail(client_errc::run_in_progress);
        }
        return fail(io_error(diag, "cannot lock journal", path, errno));
    }
    // Read what is there (under the lock: no other writer now).
    if (::fstat(fd, &st) != 0) return fail(io_error(diag, "cannot stat journal", path, errno));
    std::string text(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t got = 0;
    while (got < text.size()) {
        auto n = ::pread(fd, text.data() + got, text.size() - got, static_cast<off_t>(got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(io_error(diag, "cannot read journal", path, errno));
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    text.resize(got);
    if (auto pe = parse_journal(text, path, existing, diag)) return fail(client_errc::invalid_config);
    if (!existing.header.run_id.empty()) {
        if (auto he = check_journal_header(existing.header, header, path, diag)) return fail(he);
    }
    // A torn last line (a crash mid-write) goes before anything is appended,
    // or the next record would be glued onto it.
    if (existing.torn_tail || existing.valid_bytes < text.size()) {
        if (::ftruncate(fd, static_cast<off_t>(existing.valid_bytes)) != 0 || ::fdatasync(fd) != 0)
            return fail(io_error(diag, "cannot truncate the torn last line of journal", path, errno));
    }
    if (existing.header.run_id.empty()) {
        // New (or empty) journal: the header, synced, and the directory entry.
        if (existing.valid_bytes > 0 && ::ftruncate(fd, 0) != 0)
            return fail(io_error(diag, "cannot truncate journal", path, errno));
        const auto line = format_journal_header(header);
        std::size_t done = 0;
        while (done < line.size()) {
            auto n = ::write(fd, line.data() + done, line.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return fail(io_error(diag, "cannot write journal", path, n < 0 ? errno : EIO));
            done += static_cast<std::size_t>(n);
        }
        if (::fdatasync(fd) != 0) return fail(io_error(diag, "cannot sync journal", path, errno));
        if (int err = sync_dir(parent_dir(path)))
            return fail(io_error(diag, "cannot sync the directory of journal", path, err));
        existing.header = header;
    }
    return std::make_unique<file_journal>(fd, path, params);
}

}  // namespace cbs
