// memory_journal: the journal_sink of tests. Records are kept in memory; a
// failure from record N and slow or held durability are simulated.
#include <cbs/journal.hpp>

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

namespace cbs {

using durable_callback = std::function<void(error_code, diagnostics)>;

struct memory_journal::impl {
    memory_journal_params params;
    journal_header header;
    mutable std::mutex mu;
    std::condition_variable cv;
    std::vector<journal_record> records;
    std::uint64_t appended = 0, durable = 0;
    std::size_t syncs = 0;
    bool closed = false;
    error_code ec;
    diagnostics diag;
    std::multimap<std::uint64_t, durable_callback> waiters;
    std::thread syncer;  // only with durable_delay

    /// Marks everything up to `upto` durable and takes the waiters it
    /// satisfies (and, once failed, every waiter: none can succeed any more).
    std::multimap<std::uint64_t, durable_callback> advance_locked(std::uint64_t upto) {
        if (upto > durable) {
            durable = upto;
            ++syncs;
        }
        std::multimap<std::uint64_t, durable_callback> ready;
        auto end = ec ? waiters.end() : waiters.upper_bound(durable);
        ready.insert(std::make_move_iterator(waiters.begin()), std::make_move_iterator(end));
        waiters.erase(waiters.begin(), end);
        return ready;
    }

    void answer(std::multimap<std::uint64_t, durable_callback>& ready) {
        error_code e;
        diagnostics d;
        std::uint64_t dur = 0;
        {
            std::lock_guard lk(mu);
            e = ec;
            d = diag;
            dur = durable;
        }
        for (auto& [seq, done] : ready)
            if (seq <= dur)
                done({}, {});
            else
                done(e ? e : make_error_code(client_errc::journal_failed), d);
    }

    void run_syncer() {
        std::unique_lock lk(mu);
        for (;;) {
            cv.wait(lk, [&] { return closed || appended > durable; });
            if (appended <= durable && closed) return;
            const auto upto = appended;
            lk.unlock();
            std::this_thread::sleep_for(params.durable_delay);  // the "fdatasync"
            lk.lock();
            auto ready = advance_locked(upto);
            lk.unlock();
            answer(ready);
            lk.lock();
        }
    }
};

memory_journal::memory_journal(memory_journal_params params, journal_header header) : impl_(std::make_unique<impl>()) {
    impl_->params = params;
    impl_->header = std::move(header);
    if (params.durable_delay.count() > 0 && !params.hold) impl_->syncer = std::thread([this] { impl_->run_syncer(); });
}

memory_journal::~memory_journal() {
    close();
}

std::uint64_t memory_journal::append(journal_record rec) {
    std::multimap<std::uint64_t, durable_callback> ready;
    std::uint64_t seq = 0;
    {
        std::lock_guard lk(impl_->mu);
        seq = ++impl_->appended;
        if (!impl_->ec && impl_->params.fail_from != 0 && seq >= impl_->params.fail_from) {
            impl_->ec = client_errc::journal_failed;
            impl_->diag.client_message =
                "cannot sync journal 'memory': Input/output error (errno 5) at record " + std::to_string(seq);
            ready = impl_->advance_locked(impl_->durable);
        }
        if (impl_->ec) {
            // nothing more is kept once failed
        } else {
            impl_->records.push_back(std::move(rec));
            if (impl_->params.durable_delay.count() > 0 && !impl_->params.hold)
                impl_->cv.notify_one();
            else if (!impl_->params.hold)
                ready = impl_->advance_locked(seq);
        }
    }
    impl_->answer(ready);
    return seq;
}

void memory_journal::when_durable(std::uint64_t seq, std::function<void(error_code, diagnostics)> done) {
    std::unique_lock lk(impl_->mu);
    if (seq > impl_->durable && !impl_->ec) {
        impl_->waiters.emplace(seq, std::move(done));
        return;
    }
    error_code ec = seq <= impl_->durable ? error_code{} : impl_->ec;
    diagnostics diag = ec ? impl_->diag : diagnostics{};
    lk.unlock();
    done(ec, std::move(diag));
}

error_code memory_journal::failed(diagnostics& diag) const {
    std::lock_guard lk(impl_->mu);
    if (impl_->ec) diag = impl_->diag;
    return impl_->ec;
}

void memory_journal::close() {
    {
        std::lock_guard lk(impl_->mu);
        if (impl_->closed) return;
        impl_->closed = true;
        impl_->cv.notify_one();
    }
    if (impl_->syncer.joinable()) impl_->syncer.join();
    std::multimap<std::uint64_t, durable_callback> ready;
    {
        std::lock_guard lk(impl_->mu);
        if (!impl_->ec) ready = impl_->advance_locked(impl_->appended);  // close makes everything durable
        ready.merge(impl_->waiters);
    }
    impl_->answer(ready);
}

void memory_journal::release() {
    std::multimap<std::uint64_t, durable_callback> ready;
    {
        std::lock_guard lk(impl_->mu);
        if (!impl_->ec) ready = impl_->advance_locked(impl_->appended);
    }
    impl_->answer(ready);
}

std::vector<journal_record> memory_journal::records() const {
    std::lock_guard lk(impl_->mu);
    return impl_->records;
}

std::uint64_t memory_journal::durable() const {
    std::lock_guard lk(impl_->mu);
    return impl_->durable;
}

std::size_t memory_journal::syncs() const {
    std::lock_guard lk(impl_->mu);
    return impl_->syncs;
}

std::string memory_journal::text() const {
    std::lock_guard lk(impl_->mu);
    journal_header h = impl_->header;
    if (h.run_id.empty()) h.run_id = "memory";
    std::string out = format_journal_header(h);
    for (const auto& r : impl_->records) out += format_journal_record(r);
    return out;
}

}  // namespace cbs
