// The emulator's state across restarts (emulator_params::persist_state): an
// atomic file write and a background saver that debounces. No Asio: the
// saver has its own thread, so saving never adds work to the emulator's
// executor (stop() leaves nothing behind) and never blocks a request on
// fsync.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace cbs::emu::detail {

/// Name of the state file in the state directory.
inline constexpr const char* state_file_name = "state.json";

/// Writes `text` to `path` so that a reader (or a crash) sees the old file
/// or the new one, never a mix: a temporary file beside it, fsync, rename
/// over `path`, fsync of the directory. Creates the directory if needed.
/// Throws std::system_error naming the path.
void write_file_atomically(const std::string& path, const std::string& text);

/// Saves the state in the background: after notify(), at once if the last
/// save is at least `debounce` old, else when it is (so at most one save per
/// `debounce` however many changes). stop() joins the thread and saves a
/// last time. Thread-safe.
class state_saver {
public:
    /// The state to write, or nullopt when nothing changed since the last call.
    using snapshot_fn = std::function<std::optional<std::string>()>;
    /// `notice` hears of a failed write (the saver goes on; the next change retries).
    state_saver(std::string path, snapshot_fn snapshot, std::function<void(const std::string&)> notice,
                std::chrono::milliseconds debounce);
    ~state_saver();
    state_saver(const state_saver&) = delete;
    state_saver& operator=(const state_saver&) = delete;

    /// Starts the thread (once; a no-op after stop()).
    void start();
    /// The state changed.
    void notify();
    /// Joins the thread and saves what changed since the last save. Idempotent.
    void stop();

private:
    void run();
    void save_now();

    std::string path_;
    snapshot_fn snapshot_;
    std::function<void(const std::string&)> notice_;
    std::chrono::milliseconds debounce_;
    std::mutex save_mu_;  // one write at a time (the thread's and stop()'s)
    std::mutex mu_;       // the fields below
    std::condition_variable cv_;
    bool pending_ = false, stopping_ = false, stopped_ = false;
    std::thread thread_;
};

}  // namespace cbs::emu::detail
