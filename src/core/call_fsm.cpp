#include <cbs/detail/call_fsm.hpp>

#include <cassert>

namespace cbs::detail {

call_fsm::call_fsm(const retry_params& params, bool idempotent, bool rate_limited, time_point start,
                   time_point deadline)
    : retry_(params, idempotent, start, deadline), idempotent_(idempotent), rate_limited_(rate_limited) {}

call_action call_fsm::finish(call_end e) {
    expect_ = call_step::done;
    call_action a;
    a.step = call_step::done;
    a.end = e;
    return a;
}

call_action call_fsm::credentials_step(bool new_attempt) {
    if (new_attempt) stale_resend_used_ = false;
    expect_ = call_step::credentials;
    call_action a;
    a.step = call_step::credentials;
    a.new_attempt = new_attempt;
    return a;
}

call_action call_fsm::start() {
    return credentials_step(true);
}

call_action call_fsm::on_credentials(error_code ec, std::string_view server_code, time_point now, retry_budget& budget,
                                     const uniform_source& uniform) {
    assert(expect_ == call_step::credentials);
    if (ec == client_errc::cancelled) {
        stage_ = stage::before_send;
        return finish(call_end::cancelled);
    }
    if (ec == client_errc::deadline_exceeded) return finish(call_end::deadline);
    if (ec) {
        // The fetch failed; nothing of this call was written. A network
        // failure reaching the credential source is retried like a failed
        // connect; a source with nothing (or set up wrongly) is final. An
        // STS throttle is not this action's: its limiter is left alone.
        auto a = after_failure(ec, server_code, false, now, budget, uniform);
        a.slow_limiter = false;
        return a;
    }
    expect_ = call_step::lease;
    return {call_step::lease};
}

call_action call_fsm::on_credentials_lapsed() {
    assert(expect_ == call_step::write);
    return credentials_step(false);
}

call_action call_fsm::on_leased(error_code ec, time_point now, retry_budget& budget, const uniform_source& uniform) {
    assert(expect_ == call_step::lease);
    if (ec == client_errc::cancelled) {
        stage_ = stage::before_send;
        return finish(call_end::cancelled);
    }
    // A failed connect, handshake or pool wait: nothing was written.
    if (ec) return after_failure(ec, {}, false, now, budget, uniform);
    if (rate_limited_) {
        expect_ = call_step::acquire_token;
        return {call_step::acquire_token};
    }
    expect_ = call_step::write;
    return {call_step::write};
}

call_action call_fsm::on_token(error_code ec) {
    assert(expect_ == call_step::acquire_token);
    if (ec == client_errc::deadline_exceeded) return finish(call_end::deadline);
    if (ec) {
        stage_ = stage::limiter;
        return finish(call_end::cancelled);
    }
    expect_ = call_step::write;
    return {call_step::write};
}

call_action call_fsm::on_exchanged(const exchange_outcome& o, time_point now, retry_budget& budget,
                                   const uniform_source& uniform) {
    assert(expect_ == call_step::write);
    written_ = written_ || o.written;
    if (!o.ec) {
        retry_.on_success(budget);
        return finish(call_end::ok);
    }
    // Refused before the service acted (the request was never carried out),
    // so sending it again is safe even for a create; once each.
    if (o.server_code == "AuthFailure.TokenFailure" && !token_retry_used_) {
        token_retry_used_ = true;
        auto a = credentials_step(true);
        a.force_refresh = true;
        return a;
    }
    if (o.server_code == "AuthFailure.SignatureExpire" && o.clock_corrected && !skew_retry_used_) {
        skew_retry_used_ = true;
        auto a = credentials_step(true);
        a.corrected_clock = true;
        return a;
    }
    // A kept-alive connection the server closed meanwhile fails before any
    // response byte. Nothing written: always safe to send again; written:
    // only for idempotent actions (the server may have read it). Once per
    // attempt, on a fresh connection, and with a token of its own.
    if (o.reused && !stale_resend_used_ && !o.got_response_bytes && o.ec != client_errc::cancelled &&
        (!o.written || idempotent_)) {
        stale_resend_used_ = true;
        ++stale_resends_;
        expect_ = call_step::lease;
        call_action a;
        a.step = call_step::lease;
        a.fresh_only = true;
        return a;
    }
    if (o.ec == client_errc::cancelled || o.ec == client_errc::response_too_large) {
        // Cancelled after writing, or an answer too large to read: the
        // service may have acted on a create.
        stage_ = stage::exchange;
        if (o.written && !idempotent_) return finish(call_end::outcome_unknown);
        return finish(o.ec == client_errc::cancelled ? call_end::cancelled : call_end::failed);
    }
    return after_failure(o.ec, o.server_code, o.written, now, budget, uniform);
}

call_action call_fsm::after_failure(error_code ec, std::string_view server_code, bool written, time_point now,
                                    retry_budget& budget, const uniform_source& uniform) {
    const auto cls = classify(ec, written, server_code);
    const auto d = retry_.on_failure(cls, now, budget, uniform);
    call_action a;
    a.slow_limiter = cls == error_class::throttle;
    switch (d.what) {
        case retry_action::outcome_unknown:
            a.step = call_step::done;
            a.end = call_end::outcome_unknown;
            break;
        case retry_action::fail:
            a.step = call_step::done;
            a.end = d.reason == give_up_reason::not_retryable ? call_end::failed : call_end::gave_up;
            a.reason = d.reason;
            break;
        case retry_action::retry:
            a.step = call_step::backoff;
            a.delay = d.delay;
            a.retry_class = cls;
            break;
    }
    expect_ = a.step;
    return a;
}

call_action call_fsm::on_backoff_done(bool cancelled) {
    assert(expect_ == call_step::backoff);
    if (cancelled) {
        stage_ = stage::backoff;
        return finish(call_end::cancelled);
    }
    return start();
}

std::optional<std::int64_t> parse_http_date(std::string_view t) noexcept {
    // "Sun, 06 Nov 1994 08:49:37 GMT": fixed positions.
    if (t.size() != 29 || t[3] != ',' || t[4] != ' ' || t[7] != ' ' || t[11] != ' ' || t[16] != ' ' || t[19] != ':' ||
        t[22] != ':' || t.substr(25) != " GMT")
        return std::nullopt;
    const auto num = [&](std::size_t pos, std::size_t len, int& out) {
        out = 0;
        for (std::size_t i = pos; i < pos + len; ++i) {
            if (t[i] < '0' || t[i] > '9') return false;
            out = out * 10 + (t[i] - '0');
        }
        return true;
    };
    int day = 0, year = 0, hour = 0, minute = 0, second = 0;
    if (!num(5, 2, day) || !num(12, 4, year) || !num(17, 2, hour) || !num(20, 2, minute) || !num(23, 2, second))
        return std::nullopt;
    constexpr std::string_view months = "JanFebMarAprMayJunJulAugSepOctNovDec";
    const auto m = months.find(t.substr(8, 3));
    if (m == std::string_view::npos || m % 3 != 0) return std::nullopt;
    const unsigned month = static_cast<unsigned>(m / 3) + 1;
    const std::chrono::year_month_day ymd{std::chrono::year(year), std::chrono::month(month),
                                          std::chrono::day(static_cast<unsigned>(day))};
    if (!ymd.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
    const auto days = std::chrono::sys_days(ymd).time_since_epoch().count();
    return static_cast<std::int64_t>(days) * 86400 + std::int64_t{hour} * 3600 + std::int64_t{minute} * 60 + second;
}

}  // namespace cbs::detail
