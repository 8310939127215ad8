// Tests of credential resolution (explicit → environment → profile file) and the INI parser.
#include <cbs/credentials.hpp>

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

namespace {

constexpr const char* file_key = "FILEsecretKEY0123456789abcdefXYZ";
constexpr const char* env_key = "ENVsecretKEY0123456789abcdefXYZ";
constexpr const char* explicit_key = "EXPLICITsecretKEY0123456789abcde";

/// A fake environment for credentials_options::getenv.
struct fake_env {
    std::map<std::string, std::string> vars;
    cbs::getenv_function fn() const {
        return [this](const char* name) -> const char* {
            auto it = vars.find(name);
            return it == vars.end() ? nullptr : it->second.c_str();
        };
    }
};

/// A temporary directory, removed with its files at the end of the test.
struct temp_dir {
    std::string path;
    std::vector<std::string> files;
    temp_dir() {
        char tmpl[] = "/tmp/cbs_cred_test_XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~temp_dir() {
        for (auto it = files.rbegin(); it != files.rend(); ++it) ::remove(it->c_str());
        ::rmdir(path.c_str());
    }
    std::string write(const std::string& rel, const std::string& text, mode_t mode = 0600) {
        const auto p = path + "/" + rel;
        std::ofstream(p, std::ios::binary) << text;
        ::chmod(p.c_str(), mode);
        files.push_back(p);
        return p;
    }
    std::string mkdir(const std::string& rel) {
        const auto p = path + "/" + rel;
        ::mkdir(p.c_str(), 0700);
        files.push_back(p);
        return p;
    }
};

std::string ini(const std::string& profile, const std::string& id, const std::string& key,
                const std::string& extra = {}) {
    return "[" + profile + "]\nsecret_id = " + id + "\nsecret_key = " + key + "\n" + extra;
}

struct outcome {
    cbs::credentials creds;
    cbs::error_code ec;
    cbs::diagnostics diag;
};

outcome resolve(const cbs::credentials_options& opts) {
    outcome o;
    o.creds = cbs::resolve_credentials(opts, o.ec, o.diag);
    return o;
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("credentials: precedence explicit > environment > file") {
    temp_dir dir;
    const auto file = dir.write("credentials", ini("default", "AKIDFILE", file_key));
    fake_env env;
    env.vars = {{"TENCENTCLOUD_SECRET_ID", "AKIDENV"}, {"TENCENTCLOUD_SECRET_KEY", env_key}};
    cbs::credentials_options opts;
    opts.getenv = env.fn();
    opts.credentials_file = file;

    SUBCASE("explicit first") {
        opts.explicit_credentials = cbs::credentials{"AKIDEXPLICIT", explicit_key, "", ""};
        auto o = resolve(opts);
        REQUIRE_FALSE(o.ec);
        CHECK(o.creds.secret_id == "AKIDEXPLICIT");
        CHECK(o.creds.secret_key == explicit_key);
        CHECK(o.creds.source == "explicit");
    }
    SUBCASE("environment second") {
        auto o = resolve(opts);
        REQUIRE_FALSE(o.ec);
        CHECK(o.creds.secret_id == "AKIDENV");
        CHECK(o.creds.secret_key == env_key);
        CHECK_FALSE(o.creds.temporary());
        CHECK(o.creds.source == "environment");
    }
    SUBCASE("environment token") {
        env.vars["TENCENTCLOUD_SESSION_TOKEN"] = "TOKENENV";
        auto o = resolve(opts);
        REQUIRE_FALSE(o.ec);
        CHECK(o.creds.token == "TOKENENV");
        CHECK(o.creds.temporary());
    }
    SUBCASE("file third") {
        env.vars.clear();
        auto o = resolve(opts);
        REQUIRE_FALSE(o.ec);
        CHECK(o.creds.secret_id == "AKIDFILE");
        CHECK(o.creds.secret_key == file_key);
        CHECK(o.creds.source == "profile \"default\" in " + file);
        CHECK(o.diag.client_message.empty());  // mode 0600: no warning
    }
    SUBCASE("use_environment = false skips the environment") {
        opts.use_environment = false;
        auto o = resolve(opts);
        REQUIRE_FALSE(o.ec);
        CHECK(o.creds.secret_id == "AKIDFILE");
    }
    SUBCASE("explicit with an empty key is invalid, not skipped") {
        opts.explicit_credentials = cbs::credentials{"AKIDEXPLICIT", "", "", ""};
        auto o = resolve(opts);
        CHECK(o.ec == cbs::client_errc::credentials_invalid);
        CHECK(contains(o.diag.client_message, "secret_key"));
    }
}

TEST_CASE("credentials: file location: option > TENCENTCLOUD_CREDENTIALS_FILE > HOME") {
    temp_dir dir;
    dir.mkdir(".tencentcloud");
    dir.write(".tencentcloud/credentials", ini("default", "AKIDHOME", file_key));
    const auto by_env = dir.write("env_file", ini("default", "AKIDENVFILE", file_key));
    const auto by_opt = dir.write("opt_file", ini("default", "AKIDOPTFILE", file_key));
    fake_env env;
    env.vars = {{"HOME", dir.path}};
    cbs::credentials_options opts;
    opts.getenv = env.fn();

    CHECK(resolve(opts).creds.secret_id == "AKIDHOME");
    env.vars["TENCENTCLOUD_CREDENTIALS_FILE"] = by_env;
    CHECK(resolve(opts).creds.secret_id == "AKIDENVFILE");
    opts.credentials_file = by_opt;
    CHECK(resolve(opts).creds.secret_id == "AKIDOPTFILE");

    // A named file that does not exist is an error that names it.
    opts.credentials_file = dir.path + "/nope";
    auto o = resolve(opts);
    CHECK(o.ec == cbs::client_errc::credentials_invalid);
    CHECK(contains(o.diag.client_message, dir.path + "/nope"));
    opts.credentials_file.reset();
    env.vars["TENCENTCLOUD_CREDENTIALS_FILE"] = dir.path + "/nope2";
    o = resolve(opts);
    CHECK(o.ec == cbs::client_errc::credentials_invalid);
    CHECK(contains(o.diag.client_message, "TENCENTCLOUD_CREDENTIALS_FILE"));
    CHECK(contains(o.diag.client_message, dir.path + "/nope2"));
}

TEST_CASE("credentials: named profile and token from the file") {
    temp_dir dir;
    const auto file = dir.write("credentials", ini("default", "AKIDDEFAULT", file_key) +
                                                   ini("prod", "AKIDPROD", "PRODKEY", "token = TOKENPROD\n"));
    fake_env env;
    cbs::credentials_options opts;
    opts.getenv = env.fn();
    opts.credentials_file = file;
    opts.profile = "prod";
    auto o = resolve(opts);
    REQUIRE_FALSE(o.ec);
    CHECK(o.creds.secret_id == "AKIDPROD");
    CHECK(o.creds.secret_key == "PRODKEY");
    CHECK(o.creds.token == "TOKENPROD");
    CHECK(o.creds.temporary());

    opts.profile = "staging";
    o = resolve(opts);
    CHECK(o.ec == cbs::client_errc::credentials_invalid);
    CHECK(contains(o.diag.client_message, "\"staging\" not found"));
    CHECK(contains(o.diag.client_message, "[default] [prod]"));
}

TEST_CASE("credentials: half-set environment is invalid") {
    fake_env env;
    cbs::credentials_options opts;
    opts.getenv = env.fn();
    opts.credentials_file = "/nonexistent/never/read";
    SUBCASE("id without key") {
        env.vars = {{"TENCENTCLOUD_SECRET_ID", "AKIDHALF"}};
        auto o = resolve(opts);
        CHECK(o.ec == cbs::client_errc::credentials_invalid);
        CHECK(contains(o.diag.client_message, "TENCENTCLOUD_SECRET_KEY is not"));
        CHECK(contains(o.diag.client_message, "AKIDHALF"));
    }
    SUBCASE("key without id") {
        env.vars = {{"TENCENTCLOUD_SECRET_KEY", env_key}};
        auto o = resolve(opts);
        CHECK(o.ec == cbs::client_errc::credentials_invalid);
        CHECK(contains(o.diag.client_message, "TENCENTCLOUD_SECRET_ID is not"));
    }
    SUBCASE("token alone") {
        env.vars = {{"TENCENTCLOUD_SESSION_TOKEN", "TOK"}};
        auto o = resolve(opts);
        CHECK(o.ec == cbs::client_errc::credentials_invalid);
        CHECK(contains(o.diag.client_message, "TENCENTCLOUD_SESSION_TOKEN"));
    }
}

TEST_CASE("credentials: nothing found lists every place looked") {
    temp_dir dir;
    fake_env env;
    env.vars = {{"HOME", dir.path}};
    cbs::credentials_options opts;
    opts.getenv = env.fn();
    auto o = resolve(opts);
    CHECK(o.ec == cbs::client_errc::credentials_missing);
    CHECK(contains(o.diag.client_message, "explicit"));
    CHECK(contains(o.diag.client_message, "TENCENTCLOUD_SECRET_ID"));
    CHECK(contains(o.diag.client_message, dir.path + "/.tencentcloud/credentials (not found)"));

    env.vars.clear();  // no HOME either
    opts.use_environment = false;
    o = resolve(opts);
    CHECK(o.ec == cbs::client_errc::credentials_missing);
    CHECK(contains(o.diag.client_message, "environment (disabled)"));
    CHECK(contains(o.diag.client_message, "HOME not set"));

    CHECK_THROWS_AS(cbs::resolve_credentials(opts), cbs::error);
    try {
        cbs::resolve_credentials(opts);
    } catch (const cbs::error& e) {
        CHECK(e.code() == cbs::client_errc::credentials_missing);
        CHECK(contains(e.what(), "HOME not set"));
    }
}

TEST_CASE("credentials: a file of named profiles only is skipped when no profile is asked for") {
    temp_dir dir;
    const auto file = dir.write("credentials", "[prod]\nsecret_id = AKIDprod\nsecret_key = prodkey\n");
    fake_env env;
    env.vars = {{"TENCENTCLOUD_CREDENTIALS_FILE", file}};
    cbs::credentials_options opts;
    opts.getenv = env.fn();
    auto o = resolve(opts);
    CHECK(o.ec == cbs::client_errc::credentials_missing);  // looked for, not asked for: the chain goes on
    CHECK(contains(o.diag.client_message, file + " (no [default] profile)"));
    CHECK_FALSE(contains(o.diag.client_message, "prodkey"));
    opts.profile = "default";  // asked for by name: an error, as before
    o = resolve(opts);
    CHECK(o.ec == cbs::client_errc::credentials_invalid);
    CHECK(contains(o.diag.client_message, "\"default\" not found"));
}

TEST_CASE("credentials: INI parser") {
    cbs::error_code ec;
    cbs::diagnostics diag;
    SUBCASE("comments, blanks, CRLF, BOM, spaces, key case, unknown keys") {
        const std::string text =
            "\xEF\xBB\xBF# comment\r\n; other comment\r\n\r\n[other]\r\nsecret_id=AKIDOTHER\r\n"
            "  [ default ]  \r\n  Secret_Id   =   AKIDX  \r\nSECRET_KEY=k=with=equals\r\n"
            "role_arn = ignored\r\nsecret_key = KEY2";
        auto c = cbs::parse_credentials_file(text, "", "mem", ec, diag);
        REQUIRE_FALSE(ec);
        CHECK(c.secret_id == "AKIDX");
        CHECK(c.secret_key == "KEY2");  // last one wins
        CHECK(c.token.empty());
        CHECK(c.source == "profile \"default\" in mem");
    }
    SUBCASE("malformed line reports its number, not its text") {
        const std::string text = "[default]\nsecret_id = AKIDX\n\n" + std::string(file_key) + "\n";
        auto c = cbs::parse_credentials_file(text, "default", "/p/creds", ec, diag);
        CHECK(ec == cbs::client_errc::credentials_invalid);
        CHECK(contains(diag.client_message, "/p/creds:4:"));
        CHECK_FALSE(contains(diag.client_message, file_key));
        CHECK(c.secret_id.empty());
    }
    SUBCASE("malformed section header") {
        cbs::parse_credentials_file("# x\n[default\n", "default", "f", ec, diag);
        CHECK(ec == cbs::client_errc::credentials_invalid);
        CHECK(contains(diag.client_message, "f:2:"));
    }
    SUBCASE("key outside a section, empty key") {
        cbs::parse_credentials_file("secret_id = A\n", "default", "f", ec, diag);
        CHECK(contains(diag.client_message, "f:1:"));
        cbs::parse_credentials_file("[default]\n = v\n", "default", "f", ec, diag);
        CHECK(contains(diag.client_message, "f:2:"));
    }
    SUBCASE("secret_id without secret_key, and the reverse") {
        cbs::parse_credentials_file("[default]\nsecret_id = AKIDX\n", "default", "f", ec, diag);
        CHECK(ec == cbs::client_errc::credentials_invalid);
        CHECK(contains(diag.client_message, "no secret_key"));
        cbs::parse_credentials_file(std::string("[default]\nsecret_key = ") + file_key, "default", "f", ec, diag);
        CHECK(ec == cbs::client_errc::credentials_invalid);
        CHECK(contains(diag.client_message, "no secret_id"));
        cbs::parse_credentials_file("[default]\n", "default", "f", ec, diag);
        CHECK(ec == cbs::client_errc::credentials_invalid);
    }
    SUBCASE("empty file") {
        cbs::parse_credentials_file("", "default", "f", ec, diag);
        CHECK(ec == cbs::client_errc::credentials_invalid);
        CHECK(contains(diag.client_message, "no sections"));
    }
}

TEST_CASE("credentials: file permission warning") {
    temp_dir dir;
    const auto loose = dir.write("loose", ini("default", "AKIDLOOSE", file_key), 0644);
    const auto tight = dir.write("tight", ini("default", "AKIDTIGHT", file_key), 0600);
    const auto w = cbs::credentials_file_permission_warning(loose);
    CHECK(contains(w, loose));
    CHECK(contains(w, "0644"));
    CHECK(cbs::credentials_file_permission_warning(tight).empty());
    CHECK(cbs::credentials_file_permission_warning(dir.path + "/absent").empty());

    fake_env env;
    cbs::credentials_options opts;
    opts.getenv = env.fn();
    opts.credentials_file = loose;
    auto o = resolve(opts);
    REQUIRE_FALSE(o.ec);
    CHECK(o.diag.client_message == w);  // success with a warning
}

TEST_CASE("credentials: unreadable file is invalid") {
    temp_dir dir;
    const auto sub = dir.mkdir("a_directory");
    fake_env env;
    cbs::credentials_options opts;
    opts.getenv = env.fn();
    opts.credentials_file = sub;
    auto o = resolve(opts);
    CHECK(o.ec == cbs::client_errc::credentials_invalid);
    CHECK(contains(o.diag.client_message, sub));
    if (::geteuid() != 0) {  // root reads anything
        const auto locked = dir.write("locked", ini("default", "AKIDL", file_key), 0000);
        opts.credentials_file = locked;
        o = resolve(opts);
        CHECK(o.ec == cbs::client_errc::credentials_invalid);
        CHECK(contains(o.diag.client_message, "cannot open"));
    }
}

TEST_CASE("credentials: no error, exception or redacted() string contains a secret key") {
    temp_dir dir;
    const std::vector<std::string> bad_files = {
        std::string("[default]\nsecret_key = ") + file_key + "\n",             // no id
        std::string("[default]\nsecret_key = ") + file_key + "\n" + file_key,  // malformed
        std::string("[prod]\nsecret_id = A\nsecret_key = ") + file_key,        // no profile
        std::string(file_key) + " = x\n",                                      // outside section
        std::string("[default]\nsecret_id = A\nsecret_key = ") + file_key + "\n[" + "\n",
    };
    std::vector<cbs::credentials_options> cases;
    for (std::size_t i = 0; i < bad_files.size(); ++i) {
        cbs::credentials_options o;
        o.getenv = [](const char*) -> const char* { return nullptr; };
        o.credentials_file = dir.write("bad" + std::to_string(i), bad_files[i]);
        cases.push_back(o);
    }
    {
        cbs::credentials_options o;  // key without id in the environment
        o.getenv = [](const char* n) -> const char* {
            return std::string_view(n) == "TENCENTCLOUD_SECRET_KEY" ? env_key : nullptr;
        };
        cases.push_back(o);
        o.getenv = [](const char* n) -> const char* {  // token without id
            return std::string_view(n) == "TENCENTCLOUD_SESSION_TOKEN" ? env_key : nullptr;
        };
        cases.push_back(o);
        o.getenv = [](const char*) -> const char* { return nullptr; };
        o.explicit_credentials = cbs::credentials{"", explicit_key, "", ""};
        cases.push_back(o);
    }
    for (std::size_t i = 0; i < cases.size(); ++i) {
        CAPTURE(i);
        bool threw = false;
        try {
            cbs::resolve_credentials(cases[i]);
        } catch (const cbs::error& e) {
            threw = true;
            const std::string what = e.what();
            // Case 2: no [default] profile is skipped as a source, so nothing is found.
            CHECK(e.code() == (i == 2 ? cbs::client_errc::credentials_missing : cbs::client_errc::credentials_invalid));
            CHECK_FALSE(contains(what, file_key));
            CHECK_FALSE(contains(what, env_key));
            CHECK_FALSE(contains(what, explicit_key));
            CHECK_FALSE(contains(e.diag().client_message, file_key));
            CHECK_FALSE(contains(e.diag().to_string(e.code()), file_key));
        }
        CHECK(threw);
    }

    const cbs::credentials c{"AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", file_key, "TOKEN", ""};
    CHECK(c.redacted() == "AKIDz8kr...MPLE (secret key hidden, temporary)");
    CHECK_FALSE(contains(c.redacted(), file_key));
    CHECK_FALSE(contains(c.redacted(), "TOKEN"));
    CHECK(cbs::credentials{"AKIDSHORT", file_key, "", ""}.redacted() == "AKIDSHORT (secret key hidden)");
    CHECK(cbs::credentials{}.redacted() == "(no secret id) (secret key hidden)");
}

TEST_CASE("credentials: a profile named explicitly beats the environment; explicit credentials beat both") {
    temp_dir dir;
    dir.mkdir(".tencentcloud");
    const auto file = dir.write(".tencentcloud/credentials",
                                ini("default", "AKIDDEFAULT", file_key) + ini("prod", "AKIDPROD", "PRODKEY"));
    fake_env env;
    env.vars = {{"HOME", dir.path}, {"TENCENTCLOUD_SECRET_ID", "AKIDENV"}, {"TENCENTCLOUD_SECRET_KEY", env_key}};
    cbs::credentials_options opts;
    opts.getenv = env.fn();

    // No profile named: the environment, as before.
    auto o = resolve(opts);
    REQUIRE_FALSE(o.ec);
    CHECK(o.creds.secret_id == "AKIDENV");
    CHECK(o.creds.source == "environment");

    for (std::string name : {"prod", "default"}) {
        CAPTURE(name);
        opts.profile = name;
        o = resolve(opts);
        REQUIRE_FALSE(o.ec);
        CHECK(o.creds.secret_id == (name == "prod" ? "AKIDPROD" : "AKIDDEFAULT"));
        CHECK(o.creds.source == "profile \"" + name + "\" in " + file);
    }

    // A half-set environment does not matter when a profile is named.
    env.vars.erase("TENCENTCLOUD_SECRET_KEY");
    opts.profile = "prod";
    o = resolve(opts);
    REQUIRE_FALSE(o.ec);
    CHECK(o.creds.secret_id == "AKIDPROD");

    // Explicit credentials beat a named profile too.
    opts.explicit_credentials = cbs::credentials{"AKIDEXPLICIT", explicit_key, "", ""};
    o = resolve(opts);
    REQUIRE_FALSE(o.ec);
    CHECK(o.creds.secret_id == "AKIDEXPLICIT");
    CHECK(o.creds.source == "explicit");
}

TEST_CASE("credentials: a named profile that cannot be found is an error, never a fallback to the environment") {
    temp_dir dir;  // no .tencentcloud/credentials in it
    fake_env env;
    env.vars = {{"HOME", dir.path}, {"TENCENTCLOUD_SECRET_ID", "AKIDENV"}, {"TENCENTCLOUD_SECRET_KEY", env_key}};
    cbs::credentials_options opts;
    opts.getenv = env.fn();
    opts.profile = "prod";
    auto o = resolve(opts);
    CHECK(o.ec == cbs::client_errc::credentials_invalid);
    CHECK(contains(o.diag.client_message, dir.path + "/.tencentcloud/credentials does not exist"));
    CHECK(contains(o.diag.client_message, "\"prod\" was asked for"));
    CHECK(o.creds.secret_id.empty());

    // A file without that profile: the error lists the profiles it has.
    dir.mkdir(".tencentcloud");
    dir.write(".tencentcloud/credentials", ini("default", "AKIDDEFAULT", file_key));
    o = resolve(opts);
    CHECK(o.ec == cbs::client_errc::credentials_invalid);
    CHECK(contains(o.diag.client_message, "\"prod\" not found"));

    env.vars.erase("HOME");
    o = resolve(opts);
    CHECK(o.ec == cbs::client_errc::credentials_invalid);
    CHECK(contains(o.diag.client_message, "HOME"));
}

TEST_CASE("credentials: INI role fields (role_arn, role_session_name, duration_seconds, source_profile)") {
    cbs::error_code ec;
    cbs::diagnostics diag;
    SUBCASE("role_arn next to the profile's keys") {
        const std::string text = "[dev]\nsecret_id = AKIDSRC\nsecret_key = " + std::string(file_key) +
                                 "\nrole_arn = qcs::cam::uin/100:roleName/ops\nrole_session_name = nightly\n"
                                 "duration_seconds = 900\n";
        auto p = cbs::parse_profile(text, "dev", "f", ec, diag);
        REQUIRE_FALSE(ec);
        CHECK(p.has_role());
        CHECK(p.role_arn == "qcs::cam::uin/100:roleName/ops");
        CHECK(p.role_session_name == "nightly");
        REQUIRE(p.duration);
        CHECK(p.duration->count() == 900);
        CHECK(p.keys.secret_id == "AKIDSRC");
        CHECK(p.keys.secret_key == file_key);
        CHECK(p.source_profile.empty());
        // The keys-only parser still returns the section's keys.
        auto c = cbs::parse_credentials_file(text, "dev", "f", ec, diag);
        REQUIRE_FALSE(ec);
        CHECK(c.secret_id == "AKIDSRC");
    }
    SUBCASE("role_arn + source_profile: the source profile's keys") {
        const std::string text = "[base]\nsecret_id = AKIDBASE\nsecret_key = " + std::string(file_key) +
                                 "\n[ops]\nrole_arn = qcs::cam::uin/100:roleName/ops\nsource_profile = base\n";
        auto p = cbs::parse_profile(text, "ops", "f", ec, diag);
        REQUIRE_FALSE(ec);
        CHECK(p.keys.secret_id.empty());
        CHECK(p.source_profile == "base");
        auto r = cbs::resolve_profile(text, "ops", "f", ec, diag);
        REQUIRE_FALSE(ec);
        CHECK(r.keys.secret_id == "AKIDBASE");
        CHECK(r.keys.secret_key == file_key);
        CHECK(contains(r.keys.source, "profile \"ops\" in f"));
        CHECK(contains(r.keys.source, "\"base\""));
        CHECK_FALSE(r.duration);
        // parse_credentials_file: the profile has no keys of its own.
        cbs::parse_credentials_file(text, "ops", "f", ec, diag);
        CHECK(ec == cbs::client_errc::credentials_invalid);
        CHECK(contains(diag.client_message, "source_profile"));
    }
    SUBCASE("errors") {
        const auto bad = [&](const std::string& text, const std::string& expect) {
            CAPTURE(text);
            cbs::resolve_profile(text, "p", "f", ec, diag);
            CHECK(ec == cbs::client_errc::credentials_invalid);
            CHECK(contains(diag.client_message, expect));
            CHECK_FALSE(contains(diag.client_message, file_key));
        };
        const std::string keys = "secret_id = AKIDX\nsecret_key = " + std::string(file_key) + "\n";
        bad("[p]\nsource_profile = base\n", "no role_arn");
        bad("[p]\n" + keys + "role_arn = r\nsource_profile = base\n[base]\n" + keys, "both keys and source_profile");
        bad("[p]\nrole_arn = r\n", "role_arn needs keys or a source_profile");
        bad("[p]\n" + keys + "role_session_name = s\n", "role_session_name but no role_arn");
        bad("[p]\n" + keys + "duration_seconds = 60\n", "duration_seconds but no role_arn");
        bad("[p]\n" + keys + "role_arn = r\nduration_seconds = 0\n", "1..43200");
        bad("[p]\n" + keys + "role_arn = r\nduration_seconds = 43201\n", "1..43200");
        bad("[p]\n" + keys + "role_arn = r\nduration_seconds = 1h\n", "1..43200");
        bad("[p]\nrole_arn = r\nsource_profile = nope\n", "not found");
        bad("[p]\nrole_arn = r\nsource_profile = q\n[q]\n" + keys + "role_arn = r2\n", "not chained");
    }
}

TEST_CASE("credentials: resolve_credentials refuses a profile with a role (the chain assumes it)") {
    temp_dir dir;
    const auto file =
        dir.write("credentials", ini("default", "AKIDFILE", file_key, "role_arn = qcs::cam::uin/1:roleName/r\n"));
    cbs::credentials_options opts;
    fake_env env;
    opts.getenv = env.fn();
    opts.credentials_file = file;
    auto o = resolve(opts);
    CHECK(o.ec == cbs::client_errc::credentials_invalid);
    CHECK(contains(o.diag.client_message, "qcs::cam::uin/1:roleName/r"));
    CHECK(contains(o.diag.client_message, "credential chain"));
    CHECK_FALSE(contains(o.diag.client_message, file_key));
    CHECK(o.creds.secret_key.empty());
}

TEST_CASE("credentials: an expiry is carried, none by default") {
    cbs::credentials c{"AKID", "key", "", ""};
    CHECK_FALSE(c.expires);
    c.expires = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
    CHECK(c.expires->time_since_epoch() == std::chrono::seconds(1'700'000'000));
}
