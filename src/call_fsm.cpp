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

call_action call_fsm::start() {
    stale_resend_used_ = false;
    expect_ = call_step::lease;
    call_action a;
    a.step = call_step::lease;
    a.new_attempt = true;
    return a;
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

}  // namespace cbs::detail
