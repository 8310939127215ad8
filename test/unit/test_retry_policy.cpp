// Unit tests of the pure retry policy: classes, backoff, budget, decisions.
#include <cbs/retry_policy.hpp>

#include <boost/asio/ssl/error.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <doctest/doctest.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <iterator>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using cbs::error_class;
using cbs::give_up_reason;
using cbs::retry_action;
using time_point = std::chrono::steady_clock::time_point;

namespace {

const time_point t0 = time_point(5'000s);

cbs::uniform_source fixed(double u) {
    return [u] { return u; };
}

struct expected_class {
    std::string_view code;
    error_class cls;
};

constexpr auto T = error_class::throttle;
constexpr auto X = error_class::transient;
constexpr auto B = error_class::busy;
constexpr auto F = error_class::fatal;

// The deliberate class of every code in api_error_codes.inc. A code added to
// the list without an entry here fails the test below.
constexpr expected_class expected_classes[] = {
    {"ActionOffline", F},
    {"AuthFailure.InvalidAuthorization", F},
    {"AuthFailure.InvalidSecretId", F},
    {"AuthFailure.MFAFailure", F},
    {"AuthFailure.SecretIdNotFound", F},
    {"AuthFailure.SignatureExpire", F},
    {"AuthFailure.SignatureFailure", F},
    {"AuthFailure.TokenFailure", F},
    {"AuthFailure.UnauthorizedOperation", F},
    {"DryRunOperation", F},
    {"FailedOperation", F},
    {"InternalError", X},
    {"InternalError.ComponentError", X},
    {"InvalidAction", F},
    {"InvalidParameter", F},
    {"InvalidParameterValue", F},
    {"InvalidRequest", F},
    {"InvalidFilter", F},
    {"IpInBlacklist", F},
    {"IpNotInWhitelist", F},
    {"LimitExceeded", F},
    {"MissingParameter", F},
    {"NoSuchProduct", F},
    {"NoSuchVersion", F},
    {"RequestLimitExceeded", T},
    {"RequestLimitExceeded.GlobalRegionUinLimitExceeded", T},
    {"RequestLimitExceeded.IPLimitExceeded", T},
    {"RequestLimitExceeded.UinLimitExceeded", T},
    {"RequestSizeLimitExceeded", F},
    {"ResponseSizeLimitExceeded", F},
    {"ResourceInUse", B},
    {"ResourceInsufficient", F},
    {"ResourceNotFound", F},
    {"ResourceUnavailable", F},
    {"ServiceUnavailable", X},
    {"UnauthorizedOperation", F},
    {"UnknownParameter", F},
    {"UnsupportedOperation", F},
    {"UnsupportedProtocol", F},
    {"UnsupportedRegion", F},
    {"InsufficientSnapshotQuota", F},
    {"InvalidAccount.InsufficientBalance", F},
    {"InvalidDisk.NotSupported", F},
    {"InvalidDisk.SnapshotCreating", B},
    {"InvalidDisk.Busy", B},
    {"InvalidDiskId.NotFound", F},
    {"InvalidSnapshotId.NotFound", F},
    {"ResourceBusy", B},
    {"ResourceInUse.DiskMigrating", B},
    {"ResourceInUse.DiskRollbacking", B},
    {"ResourceNotFound.NotFound", F},
    {"ResourceUnavailable.NotSupported", F},
    {"ResourceUnavailable.SnapshotCreating", B},
    {"ResourceUnavailable.TooManyCreatingSnapshot", B},
    {"ResourceUnavailable.DiskSnapshotChainTooLarge", F},
    {"UnsupportedOperation.SnapshotHasBindedImage", F},
    {"UnsupportedOperation.StateError", F},
    {"UnsupportedOperation.SnapshotGroupDiskAttachMultiInstance", F},
};

void check_code(cbs::api_errc e, std::string_view text, std::size_t& seen) {
    CAPTURE(text);
    const expected_class* found = nullptr;
    for (const auto& x : expected_classes)
        if (x.code == text) found = &x;
    if (found == nullptr) {
        FAIL_CHECK("code not in the expected table: " << std::string(text));
        return;
    }
    ++seen;
    CHECK(cbs::classify(e) == found->cls);
    CHECK(cbs::classify_code(text) == found->cls);
    CHECK(cbs::classify(make_error_code(e), true) == found->cls);
    CHECK(cbs::classify(make_error_code(e), false, text) == found->cls);
}

cbs::retry_params aws_2026_params() {
    cbs::retry_params p;
    p.transient_base = 50ms;  // the AWS 2026 transient base of the vectors
    return p;
}

}  // namespace

TEST_CASE("every code of api_error_codes.inc has a deliberate class") {
    std::size_t seen = 0;
#define CBS_API_ERROR(name, text) check_code(cbs::api_errc::name, text, seen);
#include <cbs/detail/api_error_codes.inc>
#undef CBS_API_ERROR
    CHECK(seen == std::size(expected_classes));  // and no stale entries
    CHECK(cbs::classify(cbs::api_errc::unrecognized) == F);
}

TEST_CASE("unknown service codes go by family") {
    CHECK(cbs::classify_code("") == error_class::none);
    CHECK(cbs::classify_code("RequestLimitExceeded.Foo") == T);
    CHECK(cbs::classify_code("RequestLimitExceededFoo") == F);
    CHECK(cbs::classify_code("InternalError.Bar") == X);
    CHECK(cbs::classify_code("InternalErrorBar") == F);
    CHECK(cbs::classify_code("ServiceUnavailable.Maintenance") == X);
    CHECK(cbs::classify_code("ResourceInUse.Z") == B);
    CHECK(cbs::classify_code("ResourceBusy.Q") == B);
    CHECK(cbs::classify_code("AuthFailure.X") == F);
    CHECK(cbs::classify_code("InvalidParameter.Y") == F);
    CHECK(cbs::classify_code("InvalidParameterValue.TooLong") == F);
    CHECK(cbs::classify_code("UnauthorizedOperation.Foo") == F);
    CHECK(cbs::classify_code("UnsupportedOperation.Foo") == F);
    CHECK(cbs::classify_code("LimitExceeded.SnapshotGroupQuota") == F);
    CHECK(cbs::classify_code("ResourceUnavailable.Expire") == F);
    CHECK(cbs::classify_code("SomethingNew") == F);
    // An unrecognized api_errc is classified by the raw code when given.
    const auto unrec = make_error_code(cbs::api_errc::unrecognized);
    CHECK(cbs::classify(unrec, true, "RequestLimitExceeded.NewOne") == T);
    CHECK(cbs::classify(unrec, true, "InternalError.New") == X);
    CHECK(cbs::classify(unrec, true) == F);
    CHECK(cbs::classify(cbs::error_code{}, true) == error_class::none);
}

TEST_CASE("client and network errors") {
    using cbs::client_errc;
    struct row {
        client_errc e;
        error_class written, not_written;
    };
    const auto NB = error_class::network_before_send;
    const auto NA = error_class::network_ambiguous;
    const row rows[] = {
        {client_errc::invalid_request, F, F},     {client_errc::invalid_config, F, F},
        {client_errc::credentials_missing, F, F}, {client_errc::credentials_invalid, F, F},
        {client_errc::resolve_timeout, NB, NB},   {client_errc::connect_timeout, NB, NB},
        {client_errc::handshake_timeout, NB, NB}, {client_errc::request_timeout, NA, NB},
        {client_errc::connection_closed, NA, NB}, {client_errc::http_status, X, X},
        {client_errc::bad_response, X, X},        {client_errc::response_too_large, F, F},
        {client_errc::plain_http_refused, F, F},  {client_errc::cancelled, F, F},
        {client_errc::outcome_unknown, F, F},     {client_errc::pool_exhausted, NB, NB},
        {client_errc::deadline_exceeded, F, F},   {client_errc::http_throttled, T, T},
        {client_errc::http_rejected, F, F},       {client_errc::journal_failed, F, F},
        {client_errc::run_in_progress, F, F},
    };
    for (const auto& r : rows) {
        CAPTURE(static_cast<int>(r.e));
        CHECK(cbs::classify(make_error_code(r.e), true) == r.written);
        CHECK(cbs::classify(make_error_code(r.e), false) == r.not_written);
    }
    // Asio / system codes: network, split on whether the request was written.
    const cbs::error_code reset(ECONNRESET, boost::system::system_category());
    CHECK(cbs::classify(reset, true) == NA);
    CHECK(cbs::classify(reset, false) == NB);
    const auto refused = boost::system::errc::make_error_code(boost::system::errc::connection_refused);
    CHECK(cbs::classify(refused, false) == NB);
    // operation_aborted (ECANCELED) is a cancellation.
    const cbs::error_code aborted(ECANCELED, boost::system::system_category());
    CHECK(cbs::classify(aborted, true) == F);
    CHECK(cbs::classify(aborted, false) == F);
}

TEST_CASE("TLS failures: permanent ones are fatal, transient ones are network errors") {
    const auto ssl_error = [](int reason) {
        return cbs::error_code(static_cast<int>(ERR_PACK(ERR_LIB_SSL, 0, reason)),
                               boost::asio::error::get_ssl_category());
    };
    // Another attempt would meet the same refusal.
    for (int reason : {SSL_R_CERTIFICATE_VERIFY_FAILED, SSL_R_TLSV1_ALERT_PROTOCOL_VERSION, SSL_R_UNSUPPORTED_PROTOCOL,
                       SSL_R_NO_SHARED_CIPHER, SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE, SSL_R_NO_PROTOCOLS_AVAILABLE,
                       SSL_R_VERSION_TOO_LOW}) {
        CAPTURE(reason);
        const auto ec = ssl_error(reason);
        CHECK(cbs::is_permanent_tls_failure(ec));
        CHECK(cbs::classify(ec, false) == F);
        CHECK(cbs::classify(ec, true) == F);
    }
    // A broken or reset handshake, or another library's reason: network.
    const auto NB = error_class::network_before_send;
    const auto truncated = cbs::error_code(boost::asio::ssl::error::stream_truncated);
    CHECK_FALSE(cbs::is_permanent_tls_failure(truncated));
    CHECK(cbs::classify(truncated, false) == NB);
    CHECK(cbs::classify(ssl_error(SSL_R_WRONG_VERSION_NUMBER), false) == NB);
    const cbs::error_code other_lib(static_cast<int>(ERR_PACK(ERR_LIB_X509, 0, SSL_R_CERTIFICATE_VERIFY_FAILED)),
                                    boost::asio::error::get_ssl_category());
    CHECK(cbs::classify(other_lib, false) == NB);
    const cbs::error_code reset(ECONNRESET, boost::system::system_category());
    CHECK_FALSE(cbs::is_permanent_tls_failure(reset));
    // The same number in another category is not a TLS failure.
    CHECK(cbs::classify(cbs::error_code(SSL_R_CERTIFICATE_VERIFY_FAILED, boost::system::system_category()), false) ==
          NB);
}

TEST_CASE("gateway HTTP status") {
    CHECK(cbs::classify_http_status(429) == T);
    CHECK(cbs::classify_http_status(500) == X);
    CHECK(cbs::classify_http_status(502) == X);
    CHECK(cbs::classify_http_status(504) == X);
    CHECK(cbs::classify_http_status(400) == F);
    CHECK(cbs::classify_http_status(403) == F);
}

TEST_CASE("idempotency of actions") {
    CHECK_FALSE(cbs::is_idempotent("CreateSnapshotGroup"));
    CHECK_FALSE(cbs::is_idempotent("CreateSnapshot"));
    CHECK_FALSE(cbs::is_idempotent("ApplySnapshotGroup"));
    CHECK_FALSE(cbs::is_idempotent("ApplySnapshot"));
    CHECK_FALSE(cbs::is_idempotent("CreateDisks"));
    CHECK_FALSE(cbs::is_idempotent("CopySnapshotCrossRegions"));
    CHECK_FALSE(cbs::is_idempotent("RenewDisk"));
    CHECK(cbs::is_idempotent("DescribeSnapshotGroups"));
    CHECK(cbs::is_idempotent("DescribeDisks"));
    CHECK(cbs::is_idempotent("DescribeSnapshots"));
    CHECK(cbs::is_idempotent("DeleteSnapshotGroup"));
    CHECK(cbs::is_idempotent("ModifyDiskAttributes"));
    CHECK(cbs::is_idempotent("InquirePriceCreateDisks"));
    CHECK(cbs::is_idempotent("Creates"));  // not the verb Create
}

TEST_CASE("backoff ceiling and full jitter") {
    const std::chrono::nanoseconds expect[] = {1s, 2s, 4s, 8s, 16s, 20s, 20s};
    for (unsigned n = 0; n < std::size(expect); ++n) CHECK(cbs::backoff_ceiling(1s, 20s, n) == expect[n]);
    for (unsigned n : {30u, 61u, 62u, 63u, 64u, 200u, UINT_MAX}) CHECK(cbs::backoff_ceiling(1s, 20s, n) == 20s);
    CHECK(cbs::backoff_ceiling(1ns, std::chrono::nanoseconds::max(), 62) == std::chrono::nanoseconds::max());
    CHECK(cbs::backoff_ceiling(1h, std::chrono::nanoseconds::max(), 40) == std::chrono::nanoseconds::max());

    // u = 0.5: exactly half of each ceiling, 250 ms base, 20 s cap.
    const std::chrono::nanoseconds half[] = {125ms, 250ms, 500ms, 1s, 2s, 4s, 8s, 10s, 10s};
    for (unsigned n = 0; n < std::size(half); ++n) CHECK(cbs::full_jitter(250ms, 20s, n, 0.5) == half[n]);
    // u just below 1: 1 ns under the ceiling; never reaches the ceiling.
    const double almost = std::nextafter(1.0, 0.0);
    CHECK(cbs::full_jitter(1s, 20s, 0, almost) == 1s - 1ns);
    CHECK(cbs::full_jitter(1s, 20s, 4, almost) == 16s - 1ns);
    CHECK(cbs::full_jitter(1s, 20s, 1000, almost) == 20s - 1ns);
    CHECK(cbs::full_jitter(5s, 60s, 1000, 0.25) == 15s);
    // Out-of-range sources are clamped.
    CHECK(cbs::full_jitter(1s, 20s, 0, 0.0) == 0s);
    CHECK(cbs::full_jitter(1s, 20s, 0, -3.0) == 0s);
    CHECK(cbs::full_jitter(1s, 20s, 0, std::nan("")) == 0s);
    CHECK(cbs::full_jitter(1s, 20s, 2, 7.0) == 4s);
}

TEST_CASE("seeded uniform source") {
    auto a = cbs::make_uniform_source(7), b = cbs::make_uniform_source(7);
    for (int i = 0; i < 1000; ++i) {
        const double x = a();
        CHECK(x == b());
        CHECK(x >= 0.0);
        CHECK(x < 1.0);
    }
}

TEST_CASE("retry budget: AWS 2026 vectors") {
    const auto p = aws_2026_params();
    cbs::retry_budget budget(p);
    CHECK(budget.available() == 500);
    {  // 500 -> 486 (delay 50 ms) -> 472 (delay 100 ms) -> success -> 486
        cbs::retry_state st(p, true, t0);
        auto d = st.on_failure(X, t0, budget, fixed(1.0));
        CHECK(d.what == retry_action::retry);
        CHECK(d.delay == 50ms);
        CHECK(budget.available() == 486);
        d = st.on_failure(X, t0 + 50ms, budget, fixed(1.0));
        CHECK(d.what == retry_action::retry);
        CHECK(d.delay == 100ms);
        CHECK(budget.available() == 472);
        st.on_success(budget);
        CHECK(budget.available() == 486);
    }
    {  // first-try success: +1
        cbs::retry_state st(p, true, t0);
        st.on_success(budget);
        CHECK(budget.available() == 487);
    }
    {  // throttle: 500 -> 495 (delay 1 s) -> success -> 500
        cbs::retry_budget fresh(p);
        cbs::retry_state st(p, true, t0);
        auto d = st.on_failure(T, t0, fresh, fixed(1.0));
        CHECK(d.delay == 1s);
        CHECK(fresh.available() == 495);
        st.on_success(fresh);
        CHECK(fresh.available() == 500);
        fresh.on_success(false, error_class::none);
        CHECK(fresh.available() == 500);  // capped
    }
    {  // initial tokens 14: one transient retry -> 0, then exhausted
        cbs::retry_budget low(p, 14);
        cbs::retry_state st(p, true, t0);
        auto d = st.on_failure(X, t0, low, fixed(1.0));
        CHECK(d.what == retry_action::retry);
        CHECK(low.available() == 0);
        d = st.on_failure(X, t0 + 50ms, low, fixed(1.0));
        CHECK(d.what == retry_action::fail);
        CHECK(d.reason == give_up_reason::budget_exhausted);
        CHECK(low.available() == 0);
        CHECK(low.refused() == 1);
        // Busy retries cost nothing and still go through.
        CHECK(st.on_failure(B, t0 + 1s, low, fixed(0.5)).what == retry_action::retry);
    }
    CHECK(budget.cost(T) == 5);
    CHECK(budget.cost(X) == 14);
    CHECK(budget.cost(error_class::network_ambiguous) == 10);
    CHECK(budget.cost(error_class::network_before_send) == 5);
    CHECK(budget.cost(B) == 0);
}

TEST_CASE("decision for each class x idempotency") {
    const auto NB = error_class::network_before_send;
    const auto NA = error_class::network_ambiguous;
    const auto R = retry_action::retry;
    const auto U = retry_action::outcome_unknown;
    const auto FL = retry_action::fail;
    struct row {
        error_class c;
        retry_action idem, non_idem;
    };
    const row rows[] = {
        {T, R, R}, {X, R, U}, {B, R, R}, {NB, R, R}, {NA, R, U}, {F, FL, FL}, {error_class::none, FL, FL}};
    const cbs::retry_params p;
    for (const auto& r : rows) {
        CAPTURE(cbs::to_string(r.c));
        for (bool idem : {true, false}) {
            CAPTURE(idem);
            cbs::retry_budget budget(p);
            cbs::retry_state st(p, idem, t0);
            const auto d = st.on_failure(r.c, t0, budget, fixed(0.5));
            CHECK(d.what == (idem ? r.idem : r.non_idem));
            CHECK(d.cls == r.c);
            if (d.what == R) {
                CHECK(d.reason == give_up_reason::none);
                CHECK(d.delay == cbs::limits_for(p, r.c).base / 2);
                CHECK(budget.available() == 500 - budget.cost(r.c));
            } else {
                CHECK(d.reason == (d.what == U ? give_up_reason::not_idempotent : give_up_reason::not_retryable));
                CHECK(budget.available() == 500);  // nothing spent
            }
        }
    }
}

TEST_CASE("max attempts per class; the exponent counts per class") {
    const cbs::retry_params p;
    cbs::retry_budget budget(p);
    {
        cbs::retry_state st(p, false, t0);
        const std::chrono::nanoseconds expect[] = {1s, 2s, 4s, 8s, 16s};
        for (auto e : expect) {
            auto d = st.on_failure(T, t0, budget, fixed(1.0));
            CHECK(d.what == retry_action::retry);
            CHECK(d.delay == e);
        }
        auto d = st.on_failure(T, t0, budget, fixed(1.0));  // the 6th throttled attempt
        CHECK(d.what == retry_action::fail);
        CHECK(d.reason == give_up_reason::max_attempts);
        CHECK(st.failures() == 6);
        CHECK(st.retries() == 5);
    }
    {
        cbs::retry_state st(p, true, t0);
        CHECK(st.on_failure(X, t0, budget, fixed(1.0)).delay == 250ms);
        CHECK(st.on_failure(T, t0, budget, fixed(1.0)).delay == 1s);  // n = 0 for throttle
        CHECK(st.on_failure(X, t0, budget, fixed(1.0)).delay == 500ms);
        CHECK(st.on_failure(T, t0, budget, fixed(1.0)).delay == 2s);
        const auto d = st.on_failure(X, t0, budget, fixed(1.0));  // 3rd transient
        CHECK(d.reason == give_up_reason::max_attempts);
        CHECK(st.failures(X) == 3);
        CHECK(st.failures(T) == 2);
        CHECK(st.last_retry_class() == T);
    }
    {  // network classes: 3 attempts each
        cbs::retry_state st(p, true, t0);
        const auto NA = error_class::network_ambiguous;
        CHECK(st.on_failure(NA, t0, budget, fixed(0.0)).what == retry_action::retry);
        CHECK(st.on_failure(NA, t0, budget, fixed(0.0)).what == retry_action::retry);
        CHECK(st.on_failure(NA, t0, budget, fixed(0.0)).reason == give_up_reason::max_attempts);
    }
}

TEST_CASE("busy retries until the deadline") {
    const cbs::retry_params p;  // busy 5 s .. 60 s, deadline 10 min
    cbs::retry_budget budget(p);
    cbs::retry_state st(p, false, t0);
    CHECK(st.deadline() == t0 + 10min);
    time_point now = t0;
    std::vector<std::chrono::nanoseconds> delays;
    for (;;) {
        const auto d = st.on_failure(B, now, budget, fixed(1.0));
        if (d.what != retry_action::retry) {
            CHECK(d.what == retry_action::fail);
            CHECK(d.reason == give_up_reason::deadline);
            CHECK(d.delay == 0s);
            break;
        }
        delays.push_back(d.delay);
        now += d.delay;
        REQUIRE(delays.size() < 100);
    }
    // 5 + 10 + 20 + 40 + 8 x 60 = 555 s; one more 60 s would end at 615 s.
    REQUIRE(delays.size() == 12);
    CHECK(delays[0] == 5s);
    CHECK(delays[3] == 40s);
    CHECK(delays[4] == 60s);
    CHECK(delays[11] == 60s);
    CHECK(now == t0 + 555s);
    CHECK(budget.available() == 500);  // busy is free
}

TEST_CASE("deadline: explicit, checked before the budget is charged") {
    const cbs::retry_params p;
    cbs::retry_budget budget(p);
    cbs::retry_state st(p, true, t0, t0 + 1s);
    auto d = st.on_failure(X, t0, budget, fixed(1.0));
    CHECK(d.what == retry_action::retry);
    CHECK(d.delay == 250ms);
    CHECK(budget.available() == 486);
    d = st.on_failure(X, t0 + 600ms, budget, fixed(1.0));  // 600 + 500 ms > 1 s
    CHECK(d.what == retry_action::fail);
    CHECK(d.reason == give_up_reason::deadline);
    CHECK(budget.available() == 486);
    // A smaller draw fits: the decision is on the actual jittered delay.
    cbs::retry_state st2(p, true, t0, t0 + 1s);
    (void)st2.on_failure(X, t0, budget, fixed(1.0));
    d = st2.on_failure(X, t0 + 600ms, budget, fixed(0.5));
    CHECK(d.what == retry_action::retry);
    CHECK(d.delay == 250ms);
    // Deadline exactly at now + delay is still allowed; past it is not.
    cbs::retry_state st3(p, true, t0, t0 + 125ms);
    CHECK(st3.on_failure(X, t0, budget, fixed(0.5)).what == retry_action::retry);
    cbs::retry_state st4(p, true, t0, t0 + 124ms);
    CHECK(st4.on_failure(X, t0, budget, fixed(0.5)).reason == give_up_reason::deadline);
}

TEST_CASE("the random source is only drawn when a delay is computed") {
    const cbs::retry_params p;
    cbs::retry_budget budget(p);
    int draws = 0;
    const cbs::uniform_source counting = [&draws] {
        ++draws;
        return 0.5;
    };
    cbs::retry_state st(p, false, t0);
    (void)st.on_failure(F, t0, budget, counting);
    (void)st.on_failure(X, t0, budget, counting);  // outcome unknown
    CHECK(draws == 0);
    (void)st.on_failure(T, t0, budget, counting);
    CHECK(draws == 1);
    // An empty source means no jitter.
    cbs::retry_state st2(p, true, t0);
    CHECK(st2.on_failure(T, t0, budget, {}).delay == 1s);
}

TEST_CASE("names") {
    CHECK(cbs::to_string(error_class::network_ambiguous) == "network_ambiguous");
    CHECK(cbs::to_string(error_class::throttle) == "throttle");
    CHECK(cbs::to_string(give_up_reason::budget_exhausted) == "budget_exhausted");
    CHECK(cbs::to_string(give_up_reason::deadline) == "deadline");
}
