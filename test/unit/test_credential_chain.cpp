// The default credential chain's order and its error, on a fake environment
// and temporary files; the providers' answer parsers. No network: the CVM
// role source points at a closed loopback port (or a routable address it
// must refuse before connecting), and no case reaches an STS call.
#include <cbs/client.hpp>
#include <cbs/credential_provider.hpp>
#include <cbs/detail/credential_fetch.hpp>
#include <cbs/detail/credential_http.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json/parse.hpp>

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <optional>
#include <string>

#include <unistd.h>

namespace asio = boost::asio;

namespace {

constexpr const char* file_key = "FILEsecretKEY0123456789abcdefXYZ";
constexpr const char* env_key = "ENVsecretKEY0123456789abcdefXYZ";

struct fake_env {
    std::map<std::string, std::string> vars;
    cbs::getenv_function fn() const {
        return [this](const char* name) -> const char* {
            auto it = vars.find(name);
            return it == vars.end() ? nullptr : it->second.c_str();
        };
    }
};

struct temp_dir {
    std::string path;
    std::vector<std::string> files;
    temp_dir() {
        char tmpl[] = "/tmp/cbs_chain_test_XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~temp_dir() {
        for (auto& f : files) ::unlink(f.c_str());
        ::rmdir(path.c_str());
    }
    std::string write(const std::string& name, const std::string& text) {
        auto p = path + "/" + name;
        std::ofstream(p) << text;
        files.push_back(p);
        return p;
    }
};

/// A loopback port nothing listens on.
unsigned short closed_port() {
    asio::io_context io;
    asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    auto port = a.local_endpoint().port();
    a.close();
    return port;
}

struct fetched {
    cbs::error_code ec;
    cbs::credentials creds;
    cbs::diagnostics diag;
};

fetched fetch(const std::shared_ptr<cbs::credential_provider>& p) {
    asio::io_context io;
    std::optional<fetched> out;
    p->async_fetch(io.get_executor(), [&](cbs::error_code ec, cbs::credentials c, cbs::diagnostics d) {
        out = fetched{ec, std::move(c), std::move(d)};
    });
    CHECK_FALSE(out);  // never inline
    io.run_for(std::chrono::seconds(10));
    REQUIRE(out);
    return *out;
}

/// A chain on `env` with the CVM role at a closed loopback port.
cbs::credential_chain_params chain_on(fake_env& env) {
    if (!env.vars.count("CBS_METADATA_ENDPOINT"))
        env.vars["CBS_METADATA_ENDPOINT"] = "http://127.0.0.1:" + std::to_string(closed_port());
    cbs::credential_chain_params p;
    p.files.getenv = env.fn();
    return p;
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("credential chain: nothing anywhere: the error lists every source in order and why") {
    temp_dir dir;
    fake_env env;
    env.vars["HOME"] = dir.path;
    auto r = fetch(cbs::make_default_credential_chain(chain_on(env)));
    CHECK(r.ec == cbs::client_errc::credentials_missing);
    const auto& m = r.diag.client_message;
    CAPTURE(m);
    const auto explicit_at = m.find("explicit credentials (not set)");
    const auto env_at = m.find("TENCENTCLOUD_SECRET_ID");
    const auto file_at = m.find(dir.path + "/.tencentcloud/credentials (not found)");
    const auto tke_at =
        m.find("TKE OIDC (TKE_REGION, TKE_PROVIDER_ID, TKE_WEB_IDENTITY_TOKEN_FILE, TKE_ROLE_ARN not set)");
    const auto cvm_at = m.find("CVM role");
    REQUIRE(explicit_at != std::string::npos);
    REQUIRE(env_at != std::string::npos);
    REQUIRE(file_at != std::string::npos);
    REQUIRE(tke_at != std::string::npos);
    REQUIRE(cvm_at != std::string::npos);
    CHECK(explicit_at < env_at);
    CHECK(env_at < file_at);
    CHECK(file_at < tke_at);
    CHECK(tke_at < cvm_at);
    CHECK(contains(m, env.vars["CBS_METADATA_ENDPOINT"]));  // where the CVM role was looked for
}

TEST_CASE("credential chain: the first source with credentials wins, in order") {
    temp_dir dir;
    const auto file =
        dir.write("credentials", "[default]\nsecret_id = AKIDFILE\nsecret_key = " + std::string(file_key) + "\n");
    fake_env env;
    env.vars = {{"TENCENTCLOUD_CREDENTIALS_FILE", file},
                {"TENCENTCLOUD_SECRET_ID", "AKIDENV"},
                {"TENCENTCLOUD_SECRET_KEY", env_key},
                // TKE set up with a token file that does not exist: never read
                // while an earlier source has credentials.
                {"TKE_REGION", "ap-guangzhou"},
                {"TKE_PROVIDER_ID", "tke-provider"},
                {"TKE_WEB_IDENTITY_TOKEN_FILE", dir.path + "/no-such-token"},
                {"TKE_ROLE_ARN", "qcs::cam::uin/1:roleName/tke"}};
    SUBCASE("explicit beats the environment") {
        auto p = chain_on(env);
        p.files.explicit_credentials = cbs::credentials{"AKIDEXPLICIT", "explicit-key", "", ""};
        auto r = fetch(cbs::make_default_credential_chain(p));
        REQUIRE_FALSE(r.ec);
        CHECK(r.creds.secret_id == "AKIDEXPLICIT");
    }
    SUBCASE("the environment beats the profile file") {
        auto r = fetch(cbs::make_default_credential_chain(chain_on(env)));
        REQUIRE_FALSE(r.ec);
        CHECK(r.creds.secret_id == "AKIDENV");
        CHECK(r.creds.source == "environment");
        CHECK_FALSE(r.creds.expires);
    }
    SUBCASE("the profile file beats TKE OIDC") {
        env.vars.erase("TENCENTCLOUD_SECRET_ID");
        env.vars.erase("TENCENTCLOUD_SECRET_KEY");
        auto chain = cbs::make_default_credential_chain(chain_on(env));
        auto r = fetch(chain);
        REQUIRE_FALSE(r.ec);
        CHECK(r.creds.secret_id == "AKIDFILE");
        CHECK(r.creds.source == "profile \"default\" in " + file);
        CHECK(chain->describe() == "static keys");  // the choice is kept for refreshes
    }
    SUBCASE("TKE OIDC when it is set up and nothing comes before it: its errors are said, not skipped") {
        env.vars.erase("TENCENTCLOUD_SECRET_ID");
        env.vars.erase("TENCENTCLOUD_SECRET_KEY");
        env.vars["TENCENTCLOUD_CREDENTIALS_FILE"] = dir.path + "/absent";  // named by the variable: must exist
        auto r = fetch(cbs::make_default_credential_chain(chain_on(env)));
        CHECK(r.ec == cbs::client_errc::credentials_invalid);
        CHECK(contains(r.diag.client_message, "does not exist"));
        env.vars.erase("TENCENTCLOUD_CREDENTIALS_FILE");
        env.vars["HOME"] = dir.path;
        r = fetch(cbs::make_default_credential_chain(chain_on(env)));
        CHECK(r.ec == cbs::client_errc::credentials_invalid);
        CHECK(contains(r.diag.client_message, "TKE OIDC"));
        CHECK(contains(r.diag.client_message, "web identity token file " + dir.path + "/no-such-token"));
    }
}

TEST_CASE("credential chain: a source set up wrongly is an error at once, never skipped") {
    temp_dir dir;
    fake_env env;
    env.vars = {{"HOME", dir.path}, {"TENCENTCLOUD_SECRET_KEY", env_key}};
    auto r = fetch(cbs::make_default_credential_chain(chain_on(env)));
    CHECK(r.ec == cbs::client_errc::credentials_invalid);
    CHECK(contains(r.diag.client_message, "incomplete credentials in the environment"));
    CHECK_FALSE(contains(r.diag.client_message, env_key));
}

TEST_CASE("credential chain: plain HTTP to a routable metadata address is refused before connecting") {
    temp_dir dir;
    fake_env env;
    env.vars = {{"HOME", dir.path}, {"CBS_METADATA_ENDPOINT", "http://192.0.2.10:80"}};
    auto r = fetch(cbs::make_default_credential_chain(chain_on(env)));
    CHECK(r.ec == cbs::client_errc::credentials_invalid);
    CHECK(contains(r.diag.client_message, "refusing plain HTTP"));
    CHECK(contains(r.diag.client_message, "192.0.2.10"));
}

TEST_CASE("credential providers: configuration errors name the field") {
    fake_env env;
    env.vars["CBS_METADATA_ENDPOINT"] = "https://127.0.0.1:1";
    cbs::cvm_role_params cp;
    cp.getenv = env.fn();
    CHECK_THROWS_WITH_AS(cbs::make_cvm_role_provider(cp), doctest::Contains("plain HTTP"), cbs::error);
    cbs::assume_role_params ap;
    ap.source = cbs::make_static_provider({"AKID", "key", "", ""});
    CHECK_THROWS_WITH_AS(cbs::make_assume_role_provider(ap), doctest::Contains("role_arn"), cbs::error);
    ap.role_arn = "qcs::cam::uin/1:roleName/r";
    ap.duration = std::chrono::seconds(43201);
    CHECK_THROWS_WITH_AS(cbs::make_assume_role_provider(ap), doctest::Contains("43200"), cbs::error);
    ap.duration = std::chrono::seconds(900);
    ap.endpoint = "http://sts.example";
    CHECK_THROWS_WITH_AS(cbs::make_assume_role_provider(ap), doctest::Contains("not https"), cbs::error);
    cbs::web_identity_params wp;
    wp.getenv = env.fn();
    CHECK_THROWS_WITH_AS(cbs::make_web_identity_provider(wp), doctest::Contains("TKE_REGION"), cbs::error);
    CHECK_FALSE(cbs::web_identity_configured(env.fn()));
}

TEST_CASE("credential providers: the metadata answer parser") {
    auto ok = cbs::detail::parse_metadata_credentials(
        R"({"TmpSecretId":"AKIDTMP","TmpSecretKey":"tmpkey","Token":"tok","ExpiredTime":1700003600,)"
        R"("Expiration":"2023-11-14T23:13:20Z","Code":"Success"})",
        "CVM role \"r\"");
    REQUIRE_FALSE(ok.ec);
    CHECK(ok.creds.secret_id == "AKIDTMP");
    CHECK(ok.creds.token == "tok");
    REQUIRE(ok.creds.expires);
    CHECK(ok.creds.expires->time_since_epoch() == std::chrono::seconds(1700003600));
    CHECK(ok.creds.source == "CVM role \"r\"");
    const auto bad = [](std::string_view body, std::string_view expect) {
        CAPTURE(body);
        auto r = cbs::detail::parse_metadata_credentials(body, "src");
        CHECK(r.ec == cbs::client_errc::credentials_invalid);
        CHECK(contains(r.diag.client_message, std::string(expect)));
        CHECK_FALSE(contains(r.diag.client_message, "tmpkey"));
    };
    bad("not json", "not a JSON object");
    bad(R"({"Code":"Failure","TmpSecretId":"A","TmpSecretKey":"tmpkey","Token":"t","ExpiredTime":1})", "Failure");
    bad(R"({"TmpSecretKey":"tmpkey","Token":"t","ExpiredTime":1})", "TmpSecretId");
    bad(R"({"TmpSecretId":"A","TmpSecretKey":"tmpkey","ExpiredTime":1})", "Token");
    bad(R"({"TmpSecretId":"A","TmpSecretKey":"tmpkey","Token":"t"})", "ExpiredTime");
    bad(R"({"TmpSecretId":"A","TmpSecretKey":"tmpkey","Token":"t","ExpiredTime":"soon"})", "ExpiredTime");
}

TEST_CASE("credential providers: the STS answer parser") {
    auto v = boost::json::parse(R"({"Credentials":{"Token":"tok","TmpSecretId":"AKIDSTS","TmpSecretKey":"stskey"},)"
                                R"("ExpiredTime":1700007200,"Expiration":"x","RequestId":"req-1"})");
    auto r = cbs::detail::parse_sts_credentials(v.as_object(), "STS AssumeRole r");
    REQUIRE_FALSE(r.ec);
    CHECK(r.creds.secret_id == "AKIDSTS");
    CHECK(r.creds.secret_key == "stskey");
    CHECK(r.creds.expires->time_since_epoch() == std::chrono::seconds(1700007200));
    auto none = cbs::detail::parse_sts_credentials(boost::json::parse(R"({"RequestId":"x"})").as_object(), "s");
    CHECK(none.ec == cbs::client_errc::credentials_invalid);
    CHECK(contains(none.diag.client_message, "no Credentials"));
}

TEST_CASE("credential providers: loopback and link-local addresses") {
    using asio::ip::make_address;
    CHECK(cbs::detail::is_loopback_or_link_local(make_address("127.0.0.1")));
    CHECK(cbs::detail::is_loopback_or_link_local(make_address("127.8.9.10")));
    CHECK(cbs::detail::is_loopback_or_link_local(make_address("169.254.0.23")));
    CHECK(cbs::detail::is_loopback_or_link_local(make_address("::1")));
    CHECK(cbs::detail::is_loopback_or_link_local(make_address("fe80::1")));
    CHECK(cbs::detail::is_loopback_or_link_local(make_address("::ffff:127.0.0.1")));
    CHECK_FALSE(cbs::detail::is_loopback_or_link_local(make_address("10.0.0.1")));
    CHECK_FALSE(cbs::detail::is_loopback_or_link_local(make_address("192.0.2.10")));
    CHECK_FALSE(cbs::detail::is_loopback_or_link_local(make_address("2001:db8::1")));
    CHECK_FALSE(cbs::detail::is_loopback_or_link_local(make_address("::ffff:10.0.0.1")));
}

TEST_CASE("client_params::from_env: the variables cbsctl reads, and the default chain") {
    fake_env env;
    auto p = cbs::client_params::from_env(env.fn());
    CHECK(p.region == "ap-guangzhou");
    CHECK(p.endpoint == "https://cbs.tencentcloudapi.com");
    CHECK(p.pool.ca_file.empty());
    CHECK(p.pool.proxy.empty());
    REQUIRE(p.credentials_provider);
    CHECK(p.credentials_provider->describe() == "default credential chain");
    CHECK(p.creds.secret_id.empty());

    env.vars = {{"TENCENTCLOUD_REGION", "ap-shanghai"}, {"CBS_ENDPOINT", "https://cbs.example.test:8443"},
                {"CBS_CA_FILE", "/tmp/ca.pem"},         {"https_proxy", "http://proxy.example.test:3128"},
                {"no_proxy", "sts.example.test"},       {"CBS_STS_ENDPOINT", "https://sts.example.test"}};
    p = cbs::client_params::from_env(env.fn());
    CHECK(p.region == "ap-shanghai");
    CHECK(p.endpoint == "https://cbs.example.test:8443");
    CHECK(p.pool.ca_file == "/tmp/ca.pem");
    CHECK(p.pool.proxy == "http://proxy.example.test:3128");
    env.vars["CBS_REGION"] = "ap-beijing";  // CBS_REGION first
    CHECK(cbs::client_params::from_env(env.fn()).region == "ap-beijing");
}
