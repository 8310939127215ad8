// The fleet engine for cbs::client, and the non-template helpers of the
// driver (detail/fleet_driver.hpp). Every decision is in the core
// (fleet_core.cpp, fleet_sweep.cpp); see docs/fleet.md.
#include <cbs/client.hpp>
#include <cbs/detail/fleet_driver.hpp>

#include <boost/asio/any_io_executor.hpp>

namespace cbs {
namespace detail {

namespace asio = boost::asio;

asio::awaitable<void> fleet_run_all(std::vector<std::function<asio::awaitable<void>()>> bodies, bool& stop) {
    co_await asio::this_coro::throw_if_cancelled(false);
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer all_done(ex, std::chrono::steady_clock::time_point::max());
    std::size_t running = bodies.size();
    std::exception_ptr first_error;
    std::vector<asio::cancellation_signal> signals(bodies.size());
    for (std::size_t i = 0; i < bodies.size(); ++i)
        asio::co_spawn(ex, bodies[i](),
                       asio::bind_cancellation_slot(signals[i].slot(), [&](const std::exception_ptr& e) {
                           if (e && !first_error) first_error = e;
                           if (--running == 0) all_done.cancel();
                       }));
    while (running > 0) {
        co_await all_done.async_wait(asio::as_tuple(asio::use_awaitable));
        if (running > 0 && !stop) {  // only a cancellation wakes us early
            stop = true;
            for (auto& s : signals) s.emit(asio::cancellation_type::terminal);
        }
        co_await asio::this_coro::reset_cancellation_state();
    }
    if (first_error) std::rethrow_exception(first_error);
}

asio::awaitable<void> fleet_sleep(std::chrono::steady_clock::duration d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
}

std::int64_t fleet_unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void fleet_invalid(std::string what) {
    diagnostics diag;
    diag.client_message = std::move(what);
    throw error(client_errc::invalid_request, std::move(diag));
}

namespace {
struct durable_wait {
    explicit durable_wait(const asio::any_io_executor& ex, std::chrono::milliseconds timeout) : timer(ex, timeout) {}
    asio::steady_timer timer;
    bool done = false;
    error_code ec;
    diagnostics diag;
};
}  // namespace

asio::awaitable<std::pair<error_code, diagnostics>> fleet_wait_durable(journal_sink& j, std::uint64_t seq,
                                                                       std::chrono::milliseconds timeout) {
    auto ex = co_await asio::this_coro::executor;
    auto st = std::make_shared<durable_wait>(ex, timeout);
    // The journal may answer from its writer thread: back to the strand first.
    j.when_durable(seq, [st, ex](error_code ec, diagnostics diag) {
        asio::post(ex, [st, ec, diag = std::move(diag)]() mutable {
            if (st->done) return;
            st->done = true;
            st->ec = ec;
            st->diag = std::move(diag);
            st->timer.cancel();
        });
    });
    co_await st->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!st->done) {  // timed out (or cancelled: the caller looks at its stop flag)
        st->done = true;
        diagnostics d;
        d.client_message = "the journal did not make a record durable within " + std::to_string(timeout.count()) +
                           " ms (journal_timeout)";
        co_return std::pair{error_code(client_errc::journal_failed), std::move(d)};
    }
    co_return std::pair{st->ec, std::move(st->diag)};
}

std::shared_ptr<journal_sink> fleet_open_journal(const fleet_params& p, const client_params* cp,
                                                 journal_contents& existing, bool& have_existing) {
    have_existing = false;
    if (p.journal) return p.journal;
    if (p.journal_path.empty()) return nullptr;
    journal_header h;
    h.run_id = p.run_id;
    h.name_prefix = p.name_prefix;
    if (p.shard_count > 1) h.shard = std::to_string(p.shard_index) + "/" + std::to_string(p.shard_count);
    if (cp) {
        h.region = cp->region;
        h.endpoint = cp->endpoint;
        h.secret_id_fingerprint = secret_id_fingerprint(cp->creds.secret_id);
    }
    error_code ec;
    diagnostics diag;
    auto j = open_file_journal(p.journal_path, h, existing, ec, diag);
    if (!j) throw error(ec ? ec : error_code(client_errc::journal_failed), std::move(diag));
    have_existing = true;
    return std::shared_ptr<journal_sink>(std::move(j));
}

template class fleet_driver<client>;

}  // namespace detail

namespace detail {

boost::asio::awaitable<result<fleet_report>> snapshot_fleet_result(client& c, fleet_params params,
                                                                   fleet_progress progress) {
    // The driver fails as a whole by throwing cbs::error (before anything is
    // created); every later failure is in the report.
    result<fleet_report> out;
    try {
        out.value = co_await async_snapshot_fleet_with(c, std::move(params), std::move(progress));
    } catch (const error& e) {
        out.ec = e.code();
        out.diag = e.diag();
    }
    co_return out;
}

}  // namespace detail

}  // namespace cbs
