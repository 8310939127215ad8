#include "state_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

namespace cbs::emu::detail {

namespace {

[[noreturn]] void fail_errno(const std::string& what, const std::string& path) {
    throw std::system_error(errno, std::generic_category(), what + " " + path);
}

void write_all(int fd, const std::string& text, const std::string& path) {
    std::size_t done = 0;
    while (done < text.size()) {
        const auto n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail_errno("write", path);
        done += static_cast<std::size_t>(n);
    }
}

}  // namespace

void write_file_atomically(const std::string& path, const std::string& text) {
    namespace fs = std::filesystem;
    const fs::path target(path);
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    fs::create_directories(dir);
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) fail_errno("open", tmp);
    try {
        write_all(fd, text, tmp);
        if (::fsync(fd) != 0) fail_errno("fsync", tmp);
    } catch (...) {
        ::close(fd);
        ::unlink(tmp.c_str());
        throw;
    }
    if (::close(fd) != 0) {
        ::unlink(tmp.c_str());
        fail_errno("close", tmp);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        ::unlink(tmp.c_str());
        fail_errno("rename to", path);
    }
    // The rename itself is durable once the directory is synced.
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)::fsync(dfd);
        ::close(dfd);
    }
}

state_saver::state_saver(std::string path, snapshot_fn snapshot, std::function<void(const std::string&)> notice,
                         std::chrono::milliseconds debounce)
    : path_(std::move(path)), snapshot_(std::move(snapshot)), notice_(std::move(notice)), debounce_(debounce) {}

state_saver::~state_saver() {
    stop();
}

void state_saver::start() {
    std::lock_guard lock(mu_);
    if (thread_.joinable() || stopped_) return;
    pending_ = true;  // the state as it starts (built or loaded) is saved at once
    thread_ = std::thread([this] { run(); });
}

void state_saver::notify() {
    {
        std::lock_guard lock(mu_);
        pending_ = true;
    }
    cv_.notify_one();
}

void state_saver::stop() {
    {
        std::lock_guard lock(mu_);
        if (stopped_) return;
        stopped_ = stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
    save_now();
}

void state_saver::run() {
    using steady = std::chrono::steady_clock;
    auto last_save = steady::time_point{};
    std::unique_lock lock(mu_);
    for (;;) {
        cv_.wait(lock, [&] { return pending_ || stopping_; });
        if (stopping_) return;
        // Debounce on the real clock: the file is I/O, not emulated time.
        if (cv_.wait_until(lock, last_save + debounce_, [&] { return stopping_; })) return;
        pending_ = false;
        lock.unlock();
        save_now();
        last_save = steady::now();
        lock.lock();
    }
}

void state_saver::save_now() {
    std::lock_guard lock(save_mu_);
    try {
        if (auto text = snapshot_()) write_file_atomically(path_, *text);
    } catch (const std::exception& e) {
        if (notice_) notice_(std::string("cbs emulator: cannot save the state: ") + e.what());
    }
}

}  // namespace cbs::emu::detail
