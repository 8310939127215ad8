// The call pipeline's decisions, step by step, with no I/O: every row of the
// table in include/cbs/detail/call_fsm.hpp.
#include <cbs/detail/call_fsm.hpp>

#include <doctest/doctest.h>

#include <vector>

using namespace cbs;
using detail::call_end;
using detail::call_fsm;
using detail::call_step;
using detail::exchange_outcome;
using namespace std::chrono_literals;

namespace {

using tp = call_fsm::time_point;
const tp t0{};

struct fixture {
    retry_params params;
    retry_budget budget{params};
    uniform_source uniform = [] { return 0.5; };
    std::vector<call_step> steps;

    call_fsm make(bool idempotent, bool limited = true) {
        params.deadline = std::chrono::minutes(10);
        return call_fsm(params, idempotent, limited, t0, t0 + std::chrono::minutes(10));
    }
    detail::call_action log(detail::call_action a) {
        steps.push_back(a.step);
        return a;
    }
    /// start(), then usable credentials at once: the call is at its lease.
    detail::call_action begin(call_fsm& fsm) {
        auto a = fsm.start();
        REQUIRE(a.step == call_step::credentials);
        REQUIRE(a.new_attempt);
        a = fsm.on_credentials({}, {}, t0, budget, uniform);
        REQUIRE(a.step == call_step::lease);
        return a;
    }
};

exchange_outcome ok() {
    return {error_code{}, {}, true, false, true};
}

}  // namespace

TEST_CASE("call_fsm: credentials, then lease, then token, then write; never a write without a fresh token") {
    fixture f;
    auto fsm = f.make(false);
    auto a = f.log(fsm.start());
    CHECK(a.step == call_step::credentials);
    CHECK(a.new_attempt);
    a = f.log(fsm.on_credentials({}, {}, t0, f.budget, f.uniform));
    CHECK(a.step == call_step::lease);
    CHECK_FALSE(a.new_attempt);
    CHECK_FALSE(a.fresh_only);
    a = f.log(fsm.on_leased({}, t0, f.budget, f.uniform));
    CHECK(a.step == call_step::acquire_token);
    a = f.log(fsm.on_token({}));
    CHECK(a.step == call_step::write);
    a = f.log(fsm.on_exchanged(ok(), t0, f.budget, f.uniform));
    CHECK(a.step == call_step::done);
    CHECK(a.end == call_end::ok);
    CHECK(f.steps == std::vector{call_step::credentials, call_step::lease, call_step::acquire_token, call_step::write,
                                 call_step::done});
}

TEST_CASE("call_fsm: without a limiter the lease is followed by the write") {
    fixture f;
    auto fsm = f.make(true, false);
    f.begin(fsm);
    CHECK(fsm.on_leased({}, t0, f.budget, f.uniform).step == call_step::write);
}

TEST_CASE("call_fsm: a stale kept-alive connection is resent on a fresh one, with a new token") {
    fixture f;
    for (bool idempotent : {true, false}) {
        CAPTURE(idempotent);
        auto fsm = f.make(idempotent);
        f.begin(fsm);
        fsm.on_leased({}, t0, f.budget, f.uniform);
        fsm.on_token({});
        // Nothing written, nothing read, on a reused connection.
        exchange_outcome stale{error_code(client_errc::connection_closed), {}, false, true, false};
        auto a = fsm.on_exchanged(stale, t0, f.budget, f.uniform);
        CHECK(a.step == call_step::lease);
        CHECK(a.fresh_only);
        CHECK_FALSE(a.new_attempt);
        a = fsm.on_leased({}, t0, f.budget, f.uniform);
        CHECK(a.step == call_step::acquire_token);  // the resend takes its own token
        CHECK(fsm.on_token({}).step == call_step::write);
        CHECK(fsm.on_exchanged(ok(), t0, f.budget, f.uniform).end == call_end::ok);
        CHECK(fsm.stale_resends() == 1);
    }
}

TEST_CASE("call_fsm: the stale resend happens once per attempt, and never for a written create") {
    fixture f;
    SUBCASE("second stale failure in a row is classified normally") {
        auto fsm = f.make(true);
        f.begin(fsm);
        fsm.on_leased({}, t0, f.budget, f.uniform);
        fsm.on_token({});
        exchange_outcome stale{error_code(client_errc::connection_closed), {}, false, true, false};
        CHECK(fsm.on_exchanged(stale, t0, f.budget, f.uniform).step == call_step::lease);
        fsm.on_leased({}, t0, f.budget, f.uniform);
        fsm.on_token({});
        auto a = fsm.on_exchanged(stale, t0, f.budget, f.uniform);
        CHECK(a.step == call_step::backoff);  // a network failure before send: retried after a backoff
        a = fsm.on_backoff_done(false);
        CHECK(a.step == call_step::credentials);
        CHECK(a.new_attempt);
        a = fsm.on_credentials({}, {}, t0, f.budget, f.uniform);
        CHECK(a.step == call_step::lease);
        CHECK_FALSE(a.fresh_only);
    }
    SUBCASE("a create written on a reused connection that then failed is outcome_unknown") {
        auto fsm = f.make(false);
        f.begin(fsm);
        fsm.on_leased({}, t0, f.budget, f.uniform);
        fsm.on_token({});
        exchange_outcome written{error_code(client_errc::connection_closed), {}, true, true, false};
        auto a = fsm.on_exchanged(written, t0, f.budget, f.uniform);
        CHECK(a.step == call_step::done);
        CHECK(a.end == call_end::outcome_unknown);
    }
}

TEST_CASE("call_fsm: a retry after a backoff is a new attempt: credentials, lease, token, write again") {
    fixture f;
    auto fsm = f.make(false);
    f.begin(fsm);
    fsm.on_leased({}, t0, f.budget, f.uniform);
    fsm.on_token({});
    exchange_outcome throttled{error_code(api_errc::request_limit_exceeded), "RequestLimitExceeded", true, false, true};
    auto a = f.log(fsm.on_exchanged(throttled, t0, f.budget, f.uniform));
    CHECK(a.step == call_step::backoff);
    CHECK(a.slow_limiter);
    CHECK(a.retry_class == error_class::throttle);
    CHECK(a.delay > 0ns);
    a = f.log(fsm.on_backoff_done(false));
    CHECK(a.new_attempt);
    a = f.log(fsm.on_credentials({}, {}, t0, f.budget, f.uniform));
    a = f.log(fsm.on_leased({}, t0, f.budget, f.uniform));
    a = f.log(fsm.on_token({}));
    a = f.log(fsm.on_exchanged(ok(), t0, f.budget, f.uniform));
    CHECK(f.steps == std::vector{call_step::backoff, call_step::credentials, call_step::lease, call_step::acquire_token,
                                 call_step::write, call_step::done});
}

TEST_CASE("call_fsm: HTTP status classes") {
    fixture f;
    auto run = [&](error_code ec, bool idempotent) {
        auto fsm = f.make(idempotent);
        f.begin(fsm);
        fsm.on_leased({}, t0, f.budget, f.uniform);
        fsm.on_token({});
        return fsm.on_exchanged({ec, {}, true, false, true}, t0, f.budget, f.uniform);
    };
    // 429 on a create: refused before the API acted, so retried as a throttle.
    auto a = run(client_errc::http_throttled, false);
    CHECK(a.step == call_step::backoff);
    CHECK(a.slow_limiter);
    // 403 and other 4xx: fatal at once.
    a = run(client_errc::http_rejected, false);
    CHECK(a.end == call_end::failed);
    a = run(client_errc::http_rejected, true);
    CHECK(a.end == call_end::failed);
    // 5xx on a written create: the API may have acted.
    a = run(client_errc::http_status, false);
    CHECK(a.end == call_end::outcome_unknown);
    // 5xx on a read: retried.
    a = run(client_errc::http_status, true);
    CHECK(a.step == call_step::backoff);
    CHECK_FALSE(a.slow_limiter);
}

TEST_CASE("call_fsm: cancellation and deadline at each stage") {
    fixture f;
    SUBCASE("while leasing") {
        auto fsm = f.make(false);
        f.begin(fsm);
        auto a = fsm.on_leased(client_errc::cancelled, t0, f.budget, f.uniform);
        CHECK(a.end == call_end::cancelled);
        CHECK(fsm.cancel_stage() == call_fsm::stage::before_send);
    }
    SUBCASE("while waiting for a token") {
        auto fsm = f.make(false);
        f.begin(fsm);
        fsm.on_leased({}, t0, f.budget, f.uniform);
        auto a = fsm.on_token(client_errc::cancelled);
        CHECK(a.end == call_end::cancelled);
        CHECK(fsm.cancel_stage() == call_fsm::stage::limiter);
    }
    SUBCASE("deadline while waiting for a token") {
        auto fsm = f.make(false);
        f.begin(fsm);
        fsm.on_leased({}, t0, f.budget, f.uniform);
        CHECK(fsm.on_token(client_errc::deadline_exceeded).end == call_end::deadline);
    }
    SUBCASE("deadline while waiting for a connection: fatal, not retried") {
        auto fsm = f.make(true);
        f.begin(fsm);
        CHECK(fsm.on_leased(client_errc::deadline_exceeded, t0, f.budget, f.uniform).end == call_end::failed);
    }
    SUBCASE("during an exchange: a written create is outcome_unknown, a read is cancelled") {
        auto create = f.make(false);
        f.begin(create);
        create.on_leased({}, t0, f.budget, f.uniform);
        create.on_token({});
        CHECK(create.on_exchanged({client_errc::cancelled, {}, true, false, false}, t0, f.budget, f.uniform).end ==
              call_end::outcome_unknown);
        auto read = f.make(true);
        f.begin(read);
        read.on_leased({}, t0, f.budget, f.uniform);
        read.on_token({});
        CHECK(read.on_exchanged({client_errc::cancelled, {}, true, true, false}, t0, f.budget, f.uniform).end ==
              call_end::cancelled);
    }
    SUBCASE("during the backoff") {
        auto fsm = f.make(true);
        f.begin(fsm);
        fsm.on_leased({}, t0, f.budget, f.uniform);
        fsm.on_token({});
        fsm.on_exchanged({client_errc::http_status, {}, true, false, true}, t0, f.budget, f.uniform);
        CHECK(fsm.on_backoff_done(true).end == call_end::cancelled);
        CHECK(fsm.cancel_stage() == call_fsm::stage::backoff);
    }
}

TEST_CASE("call_fsm: a failed connect is retried with nothing written, even for a create") {
    fixture f;
    auto fsm = f.make(false);
    f.begin(fsm);
    auto a = fsm.on_leased(make_error_code(boost::system::errc::connection_refused), t0, f.budget, f.uniform);
    CHECK(a.step == call_step::backoff);
    CHECK_FALSE(fsm.written());
}

TEST_CASE("call_fsm: an answer too large for a written create is outcome_unknown; for a read, failed") {
    fixture f;
    auto create = f.make(false);
    f.begin(create);
    create.on_leased({}, t0, f.budget, f.uniform);
    create.on_token({});
    CHECK(create.on_exchanged({client_errc::response_too_large, {}, true, false, true}, t0, f.budget, f.uniform).end ==
          call_end::outcome_unknown);
    auto read = f.make(true);
    f.begin(read);
    read.on_leased({}, t0, f.budget, f.uniform);
    read.on_token({});
    CHECK(read.on_exchanged({client_errc::response_too_large, {}, true, false, true}, t0, f.budget, f.uniform).end ==
          call_end::failed);
}

TEST_CASE("call_fsm: credentials come before the lease; waiting for them holds nothing") {
    fixture f;
    SUBCASE("cancelled while waiting for credentials") {
        auto fsm = f.make(false);
        fsm.start();
        auto a = fsm.on_credentials(client_errc::cancelled, {}, t0, f.budget, f.uniform);
        CHECK(a.end == call_end::cancelled);
        CHECK(fsm.cancel_stage() == call_fsm::stage::before_send);
        CHECK_FALSE(fsm.written());
    }
    SUBCASE("the deadline passed while waiting for a refresh") {
        auto fsm = f.make(false);
        fsm.start();
        CHECK(fsm.on_credentials(client_errc::deadline_exceeded, {}, t0, f.budget, f.uniform).end ==
              call_end::deadline);
    }
    SUBCASE("no credentials anywhere: failed, not retried") {
        auto fsm = f.make(true);
        fsm.start();
        auto a = fsm.on_credentials(client_errc::credentials_missing, {}, t0, f.budget, f.uniform);
        CHECK(a.step == call_step::done);
        CHECK(a.end == call_end::failed);
    }
    SUBCASE("the credential source unreachable: retried after a backoff, even for a create") {
        auto fsm = f.make(false);
        fsm.start();
        auto a = fsm.on_credentials(client_errc::connect_timeout, {}, t0, f.budget, f.uniform);
        CHECK(a.step == call_step::backoff);
        CHECK_FALSE(a.slow_limiter);
        a = fsm.on_backoff_done(false);
        CHECK(a.step == call_step::credentials);
        CHECK(a.new_attempt);
    }
    SUBCASE("an STS throttle does not slow this action's limiter") {
        auto fsm = f.make(true);
        fsm.start();
        auto a = fsm.on_credentials(make_error_code(api_errc::request_limit_exceeded), "RequestLimitExceeded", t0,
                                    f.budget, f.uniform);
        CHECK(a.step == call_step::backoff);
        CHECK_FALSE(a.slow_limiter);
    }
}

TEST_CASE("call_fsm: credentials that lapsed during the lease or token wait: back to credentials, same attempt") {
    fixture f;
    auto fsm = f.make(false);
    f.begin(fsm);
    fsm.on_leased({}, t0, f.budget, f.uniform);
    CHECK(fsm.on_token({}).step == call_step::write);
    auto a = fsm.on_credentials_lapsed();
    CHECK(a.step == call_step::credentials);
    CHECK_FALSE(a.new_attempt);
    CHECK(fsm.on_credentials({}, {}, t0, f.budget, f.uniform).step == call_step::lease);
    fsm.on_leased({}, t0, f.budget, f.uniform);
    CHECK(fsm.on_token({}).step == call_step::write);  // a token of its own again
    CHECK(fsm.on_exchanged(ok(), t0, f.budget, f.uniform).end == call_end::ok);
}

TEST_CASE(
    "call_fsm: AuthFailure.TokenFailure: one forced refresh and one retry, even for a create; the second is final") {
    fixture f;
    const exchange_outcome refused{make_error_code(api_errc::auth_token_failure), "AuthFailure.TokenFailure", true,
                                   false, true};
    for (bool idempotent : {false, true}) {
        CAPTURE(idempotent);
        auto fsm = f.make(idempotent);
        f.begin(fsm);
        fsm.on_leased({}, t0, f.budget, f.uniform);
        fsm.on_token({});
        auto a = fsm.on_exchanged(refused, t0, f.budget, f.uniform);
        CHECK(a.step == call_step::credentials);
        CHECK(a.force_refresh);
        CHECK(a.new_attempt);
        CHECK_FALSE(a.slow_limiter);
        CHECK(fsm.token_retry_used());
        CHECK(fsm.retry().retries() == 0);  // outside the retry policy
        CHECK(fsm.on_credentials({}, {}, t0, f.budget, f.uniform).step == call_step::lease);
        fsm.on_leased({}, t0, f.budget, f.uniform);
        fsm.on_token({});
        a = fsm.on_exchanged(refused, t0, f.budget, f.uniform);
        CHECK(a.step == call_step::done);
        CHECK(a.end == call_end::failed);
    }
}

TEST_CASE("call_fsm: AuthFailure.SignatureExpire with a clock correction: one retry; without one, or twice: final") {
    fixture f;
    exchange_outcome expired{make_error_code(api_errc::auth_signature_expire), "AuthFailure.SignatureExpire", true,
                             false, true};
    SUBCASE("corrected: retried once, a new attempt") {
        auto fsm = f.make(false);
        f.begin(fsm);
        fsm.on_leased({}, t0, f.budget, f.uniform);
        fsm.on_token({});
        expired.clock_corrected = true;
        auto a = fsm.on_exchanged(expired, t0, f.budget, f.uniform);
        CHECK(a.step == call_step::credentials);
        CHECK(a.corrected_clock);
        CHECK(a.new_attempt);
        CHECK_FALSE(a.force_refresh);
        fsm.on_credentials({}, {}, t0, f.budget, f.uniform);
        fsm.on_leased({}, t0, f.budget, f.uniform);
        fsm.on_token({});
        a = fsm.on_exchanged(expired, t0, f.budget, f.uniform);
        CHECK(a.end == call_end::failed);
    }
    SUBCASE("no Date to correct by: final at once") {
        auto fsm = f.make(true);
        f.begin(fsm);
        fsm.on_leased({}, t0, f.budget, f.uniform);
        fsm.on_token({});
        expired.clock_corrected = false;
        CHECK(fsm.on_exchanged(expired, t0, f.budget, f.uniform).end == call_end::failed);
    }
}

TEST_CASE("parse_http_date: IMF-fixdate only") {
    CHECK(detail::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
    CHECK(detail::parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT") == 0);
    CHECK(detail::parse_http_date("Tue, 14 Nov 2023 22:13:20 GMT") == 1700000000);
    CHECK_FALSE(detail::parse_http_date(""));
    CHECK_FALSE(detail::parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"));
    CHECK_FALSE(detail::parse_http_date("Sun, 06 Xxx 1994 08:49:37 GMT"));
    CHECK_FALSE(detail::parse_http_date("Sun, 31 Feb 1994 08:49:37 GMT"));
    CHECK_FALSE(detail::parse_http_date("Sun, 06 Nov 1994 25:49:37 GMT"));
    CHECK_FALSE(detail::parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"));
}
