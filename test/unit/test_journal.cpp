// Tests of the fleet journal: the format, the header checks, the file journal
// (lock, torn tail, group commit, sticky I/O errors) and the memory journal.
#include <cbs/journal.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

using namespace std::chrono_literals;

namespace {

/// A temporary directory, removed with what is in it at the end of the test.
struct temp_dir {
    std::string path;
    temp_dir() {
        char tmpl[] = "/tmp/cbs_journal_test_XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~temp_dir() { std::system(("rm -rf '" + path + "'").c_str()); }
    std::string file(const std::string& rel) const { return path + "/" + rel; }
};

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void spit(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

cbs::journal_header header(std::string run_id = "r1", std::string prefix = "nightly") {
    return {std::move(run_id), std::move(prefix), "ap-guangzhou", "https://cbs.example",
            cbs::secret_id_fingerprint("AKIDexample")};
}

cbs::journal_record rec(std::string state, std::string instance, std::string group_id = "", std::int64_t ms = 0) {
    return {std::move(state), instance, "nightly-" + instance + "-r1", std::move(group_id), ms};
}

/// Waits (at most 10 s, so a bug fails instead of hanging) for when_durable.
std::pair<cbs::error_code, cbs::diagnostics> wait_durable(cbs::journal_sink& j, std::uint64_t seq) {
    auto p = std::make_shared<std::promise<std::pair<cbs::error_code, cbs::diagnostics>>>();
    auto f = p->get_future();
    j.when_durable(seq, [p](cbs::error_code ec, cbs::diagnostics d) { p->set_value({ec, std::move(d)}); });
    REQUIRE(f.wait_for(10s) == std::future_status::ready);
    return f.get();
}

std::unique_ptr<cbs::journal_sink> open(const std::string& path, const cbs::journal_header& h,
                                        cbs::journal_contents& existing, cbs::error_code& ec, cbs::diagnostics& diag,
                                        const cbs::file_journal_params& p = {}) {
    return cbs::open_file_journal(path, h, existing, ec, diag, p);
}

}  // namespace

TEST_CASE("journal format: header, records, last state wins, intents and deletions counted") {
    std::string text = cbs::format_journal_header(header());
    text += cbs::format_journal_record(rec("intent", "ins-1", "", 1000));
    text += cbs::format_journal_record(rec("unknown", "ins-1"));
    text += cbs::format_journal_record(rec("intent", "ins-1", "", 2000));
    text += cbs::format_journal_record(rec("created", "ins-1", "sg-a"));
    text += cbs::format_journal_record(rec("deleted", "ins-1", "sg-b"));
    text += cbs::format_journal_record(rec("normal", "ins-1", "sg-a"));
    text += cbs::format_journal_record(rec("skipped", "ins-2"));
    cbs::journal_contents c;
    cbs::diagnostics diag;
    REQUIRE_FALSE(cbs::parse_journal(text, "j", c, diag));
    CHECK(c.header.run_id == "r1");
    CHECK(c.header.name_prefix == "nightly");
    CHECK(c.header.region == "ap-guangzhou");
    CHECK(c.header.endpoint == "https://cbs.example");
    CHECK(c.header.secret_id_fingerprint == cbs::secret_id_fingerprint("AKIDexample"));
    CHECK(c.records == 7);
    CHECK(c.valid_bytes == text.size());
    CHECK_FALSE(c.torn_tail);
    REQUIRE(c.instances.size() == 2);
    const auto& e = c.instances.at("ins-1");
    CHECK(e.state == "normal");
    CHECK(e.group_id == "sg-a");
    CHECK(e.group_name == "nightly-ins-1-r1");
    CHECK(e.intents == 2);
    CHECK(e.last_intent_unix_ms == 2000);
    CHECK(e.deleted_group_ids == std::vector<std::string>{"sg-b"});
    CHECK(c.instances.at("ins-2").state == "skipped");
    CHECK(c.instances.at("ins-2").intents == 0);
}

TEST_CASE("journal format: a deletion of the recorded group clears it; the state stays") {
    std::string text = cbs::format_journal_header(header());
    text += cbs::format_journal_record(rec("created", "ins-1", "sg-a"));
    text += cbs::format_journal_record(rec("deleted", "ins-1", "sg-a"));
    cbs::journal_contents c;
    cbs::diagnostics diag;
    REQUIRE_FALSE(cbs::parse_journal(text, "j", c, diag));
    CHECK(c.instances.at("ins-1").state == "created");
    CHECK(c.instances.at("ins-1").group_id.empty());
}

TEST_CASE("journal format: a torn last line is ignored and measured") {
    std::string text =
        cbs::format_journal_header(header()) + cbs::format_journal_record(rec("created", "ins-1", "sg-a"));
    const auto whole = text.size();
    text += R"({"type":"normal","instance":"ins-1","gro)";
    cbs::journal_contents c;
    cbs::diagnostics diag;
    REQUIRE_FALSE(cbs::parse_journal(text, "j", c, diag));
    CHECK(c.torn_tail);
    CHECK(c.valid_bytes == whole);
    CHECK(c.instances.at("ins-1").state == "created");
}

TEST_CASE("journal format: the version-1 format still reads") {
    const std::string text =
        R"({"type":"run","run_id":"r1","name_prefix":"fleet"})"
        "\n"
        R"({"type":"created","run_id":"r1","instance":"ins-1","name":"fleet-ins-1-r1","group_id":"sg-1"})"
        "\n";
    cbs::journal_contents c;
    cbs::diagnostics diag;
    REQUIRE_FALSE(cbs::parse_journal(text, "j", c, diag));
    CHECK(c.header.run_id == "r1");
    CHECK(c.header.region.empty());
    CHECK(c.instances.at("ins-1").group_id == "sg-1");
}

TEST_CASE("journal format: malformed journals are refused naming source:line") {
    const auto h = cbs::format_journal_header(header());
    struct bad_case {
        std::string text, where, what;
    };
    const bad_case cases[] = {
        {"not json\n", "j:1", "not a journal record"},
        {cbs::format_journal_record(rec("created", "ins-1")), "j:1", "before the journal header"},
        {h + h, "j:2", "a second journal header"},
        {h + R"({"type":"created","run_id":"other","instance":"ins-1"})"
             "\n",
         "j:2", "run 'other'"},
        {h + R"({"type":"exploded","instance":"ins-1"})"
             "\n",
         "j:2", "unknown record type 'exploded'"},
        {h + R"({"type":"created"})"
             "\n",
         "j:2", "no instance"},
        {R"({"type":"header"})"
         "\n",
         "j:1", "no run_id"},
    };
    for (const auto& bc : cases) {
        CAPTURE(bc.text);
        cbs::journal_contents c;
        cbs::diagnostics diag;
        CHECK(cbs::parse_journal(bc.text, "j", c, diag) == cbs::client_errc::invalid_request);
        CHECK(diag.client_message.rfind(bc.where + ":", 0) == 0);
        CHECK(diag.client_message.find(bc.what) != std::string::npos);
    }
}

TEST_CASE("journal: the SecretId fingerprint is 16 hex digits and does not reveal the id") {
    const auto a = cbs::secret_id_fingerprint("AKIDexampleexample");
    CHECK(a.size() == 16);
    CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(a == cbs::secret_id_fingerprint("AKIDexampleexample"));
    CHECK(a != cbs::secret_id_fingerprint("AKIDexampleexamplf"));
    CHECK(cbs::format_journal_header(header()).find("AKIDexample") == std::string::npos);
}

TEST_CASE("journal: a header mismatch names the field and both values") {
    struct mismatch {
        cbs::journal_header run;
        std::string field;
    };
    auto h = header();
    std::vector<mismatch> cases;
    cases.push_back({header("r2"), "--run-id 'r1'; this run has 'r2'"});
    cases.push_back({header("r1", "daily"), "--name-prefix 'nightly'; this run has 'daily'"});
    auto region = h;
    region.region = "ap-shanghai";
    cases.push_back({region, "--region 'ap-guangzhou'; this run has 'ap-shanghai'"});
    auto endpoint = h;
    endpoint.endpoint = "https://other";
    cases.push_back({endpoint, "--endpoint"});
    auto creds = h;
    creds.secret_id_fingerprint = cbs::secret_id_fingerprint("AKIDother");
    cases.push_back({creds, "credentials (SecretId fingerprint)"});
    for (const auto& m : cases) {
        cbs::diagnostics diag;
        CHECK(cbs::check_journal_header(h, m.run, "/x/r1.journal", diag) == cbs::client_errc::invalid_config);
        CHECK(diag.client_message.find("journal '/x/r1.journal' was written for " + m.field) != std::string::npos);
    }
    cbs::diagnostics diag;
    CHECK_FALSE(cbs::check_journal_header(h, h, "p", diag));
    auto v1 = h;  // a version-1 journal has no region, endpoint or fingerprint
    v1.region = v1.endpoint = v1.secret_id_fingerprint = "";
    CHECK_FALSE(cbs::check_journal_header(v1, h, "p", diag));
}

TEST_CASE("file journal: created with its header, records durable, read back on resume") {
    temp_dir d;
    const auto path = d.file("r1.journal");
    cbs::journal_contents existing;
    cbs::error_code ec;
    cbs::diagnostics diag;
    {
        auto j = open(path, header(), existing, ec, diag);
        REQUIRE_MESSAGE(j, diag.client_message);
        CHECK(existing.records == 0);
        CHECK(existing.header.run_id == "r1");
        CHECK(slurp(path) == cbs::format_journal_header(header()));  // on disk before any record
        CHECK(j->append(rec("intent", "ins-1", "", 5)) == 1);
        const auto seq = j->append(rec("created", "ins-1", "sg-1"));
        CHECK(seq == 2);
        auto [wec, wdiag] = wait_durable(*j, seq);
        CHECK_FALSE(wec);
        CHECK(slurp(path).find("sg-1") != std::string::npos);
        j->append(rec("normal", "ins-1", "sg-1"));
        j->close();  // makes the last record durable
        j->close();  // idempotent
    }
    auto j = open(path, header(), existing, ec, diag);
    REQUIRE_MESSAGE(j, diag.client_message);
    CHECK(existing.records == 3);
    CHECK(existing.instances.at("ins-1").state == "normal");
    CHECK(existing.instances.at("ins-1").intents == 1);
}

TEST_CASE("file journal: one run at a time: a second open is run_in_progress naming the path") {
    temp_dir d;
    const auto path = d.file("r1.journal");
    cbs::journal_contents existing;
    cbs::error_code ec;
    cbs::diagnostics diag;
    auto first = open(path, header(), existing, ec, diag);
    REQUIRE(first);
    cbs::diagnostics diag2;
    auto second = open(path, header(), existing, ec, diag2);
    CHECK_FALSE(second);
    CHECK(ec == cbs::client_errc::run_in_progress);
    CHECK(diag2.client_message.find("'" + path + "'") != std::string::npos);
    first->close();  // releases the lock
    auto third = open(path, header(), existing, ec, diag);
    CHECK(third);
}

TEST_CASE("file journal: a resume with another prefix or region is refused naming the field") {
    temp_dir d;
    const auto path = d.file("r1.journal");
    cbs::journal_contents existing;
    cbs::error_code ec;
    cbs::diagnostics diag;
    open(path, header(), existing, ec, diag)->close();
    auto other = header("r1", "daily");
    CHECK_FALSE(open(path, other, existing, ec, diag));
    CHECK(ec == cbs::client_errc::invalid_config);
    CHECK(diag.client_message.find("--name-prefix 'nightly'") != std::string::npos);
    other = header();
    other.region = "ap-beijing";
    diag.clear();
    CHECK_FALSE(open(path, other, existing, ec, diag));
    CHECK(diag.client_message.find("--region 'ap-guangzhou'; this run has 'ap-beijing'") != std::string::npos);
    CHECK(slurp(path) == cbs::format_journal_header(header()));  // untouched
}

TEST_CASE("file journal: a torn tail is truncated before appending; two resumes in a row both work") {
    temp_dir d;
    const auto path = d.file("r1.journal");
    const auto good =
        cbs::format_journal_header(header()) + cbs::format_journal_record(rec("created", "ins-1", "sg-1"));
    spit(path, good + R"({"type":"normal","instance":"ins-1","group_id":"s)");
    for (int resume = 1; resume <= 2; ++resume) {
        CAPTURE(resume);
        cbs::journal_contents existing;
        cbs::error_code ec;
        cbs::diagnostics diag;
        auto j = open(path, header(), existing, ec, diag);
        REQUIRE_MESSAGE(j, diag.client_message);
        CHECK(existing.torn_tail == (resume == 1));
        CHECK(existing.records == static_cast<std::size_t>(resume));
        j->append(rec("created", "ins-" + std::to_string(resume + 1), "sg-x"));
        j->close();
    }
    cbs::journal_contents c;
    cbs::diagnostics diag;
    REQUIRE_FALSE(cbs::read_journal(path, c, diag));
    CHECK_FALSE(c.torn_tail);
    CHECK(c.records == 3);
    CHECK(c.instances.size() == 3);
}

TEST_CASE("file journal: a slow fdatasync commits records in groups, append never waits for it") {
    temp_dir d;
    std::atomic<int> syncs{0};
    cbs::file_journal_params p;
    p.sync = [&](int fd) {
        ++syncs;
        std::this_thread::sleep_for(100ms);
        return ::fdatasync(fd);
    };
    cbs::journal_contents existing;
    cbs::error_code ec;
    cbs::diagnostics diag;
    auto j = open(d.file("slow.journal"), header(), existing, ec, diag, p);
    REQUIRE(j);
    constexpr int records = 60;
    std::uint64_t last = 0;
    for (int i = 0; i < records; ++i) last = j->append(rec("intent", "ins-" + std::to_string(i)));
    // Every record was queued while at most the first sync ran.
    CHECK(syncs.load() <= 1);
    auto [wec, wdiag] = wait_durable(*j, last);
    CHECK_FALSE(wec);
    MESSAGE("records " << records << ", fdatasync calls " << syncs.load());
    CHECK(syncs.load() >= 1);
    CHECK(syncs.load() <= 3);  // one per group, not one per record
    // A trickle (one record every 5 ms while each sync takes 100 ms): each
    // sync carries what arrived during the previous one.
    const int before = syncs.load();
    for (int i = 0; i < records; ++i) {
        last = j->append(rec("created", "ins-" + std::to_string(i), "sg-" + std::to_string(i)));
        std::this_thread::sleep_for(5ms);
    }
    CHECK_FALSE(wait_durable(*j, last).first);
    MESSAGE("trickle: records " << records << ", fdatasync calls " << syncs.load() - before);
    CHECK(syncs.load() - before < records / 4);
    j->close();
    cbs::journal_contents c;
    REQUIRE_FALSE(cbs::read_journal(d.file("slow.journal"), c, diag));
    CHECK(c.records == 2 * records);
}

TEST_CASE("file journal: EIO on fdatasync is sticky, reported to every waiter, and nothing hangs") {
    temp_dir d;
    const auto path = d.file("eio.journal");
    std::atomic<int> syncs{0};
    cbs::file_journal_params p;
    p.sync = [&](int fd) {
        if (++syncs >= 2) {
            errno = EIO;
            return -1;
        }
        return ::fdatasync(fd);
    };
    cbs::journal_contents existing;
    cbs::error_code ec;
    cbs::diagnostics diag;
    auto j = open(path, header(), existing, ec, diag, p);
    REQUIRE(j);
    const auto first = j->append(rec("intent", "ins-1"));
    CHECK_FALSE(wait_durable(*j, first).first);
    CHECK_FALSE(j->failed(diag));
    const auto second = j->append(rec("intent", "ins-2"));
    auto [wec, wdiag] = wait_durable(*j, second);
    CHECK(wec == cbs::client_errc::journal_failed);
    CHECK(wdiag.client_message.find("'" + path + "'") != std::string::npos);
    CHECK(wdiag.client_message.find("errno 5") != std::string::npos);
    cbs::diagnostics fdiag;
    CHECK(j->failed(fdiag) == cbs::client_errc::journal_failed);
    CHECK(fdiag.client_message == wdiag.client_message);
    // Later records fail at once; an earlier durable one is still durable.
    const auto third = j->append(rec("intent", "ins-3"));
    CHECK(wait_durable(*j, third).first == cbs::client_errc::journal_failed);
    CHECK_FALSE(wait_durable(*j, first).first);
    j->close();
    CHECK(syncs.load() == 2);  // a failed sync is never retried
}

TEST_CASE("file journal: a failing write (ENOSPC) fails the waiters, close answers the rest") {
    temp_dir d;
    cbs::file_journal_params p;
    p.write = [](int, const void*, std::size_t) -> long {
        errno = ENOSPC;
        return -1;
    };
    cbs::journal_contents existing;
    cbs::error_code ec;
    cbs::diagnostics diag;
    auto j = open(d.file("full.journal"), header(), existing, ec, diag, p);
    REQUIRE(j);
    const auto seq = j->append(rec("intent", "ins-1"));
    auto [wec, wdiag] = wait_durable(*j, seq);
    CHECK(wec == cbs::client_errc::journal_failed);
    CHECK(wdiag.client_message.find("No space left on device") != std::string::npos);
    j->close();
}

TEST_CASE("file journal: a path that cannot be a journal is refused") {
    temp_dir d;
    cbs::journal_contents existing;
    cbs::error_code ec;
    cbs::diagnostics diag;
    CHECK_FALSE(open(d.file("missing/dir/r1.journal"), header(), existing, ec, diag));
    CHECK(ec == cbs::client_errc::invalid_config);
    CHECK(diag.client_message.find("missing/dir/r1.journal") != std::string::npos);
    diag.clear();
    CHECK_FALSE(open(d.path, header(), existing, ec, diag));  // a directory
    CHECK(ec == cbs::client_errc::invalid_config);
    spit(d.file("junk.journal"), "this is not a journal\n");
    diag.clear();
    CHECK_FALSE(open(d.file("junk.journal"), header(), existing, ec, diag));
    CHECK(ec == cbs::client_errc::invalid_config);
    CHECK(diag.client_message.find("junk.journal:1") != std::string::npos);
}

TEST_CASE("memory journal: fails from record N with EIO; earlier records stay durable") {
    cbs::memory_journal j({.fail_from = 3});
    const auto a = j.append(rec("intent", "ins-1"));
    const auto b = j.append(rec("created", "ins-1", "sg-1"));
    CHECK_FALSE(wait_durable(j, b).first);
    const auto c = j.append(rec("intent", "ins-2"));
    CHECK(c == 3);
    cbs::diagnostics diag;
    CHECK(j.failed(diag) == cbs::client_errc::journal_failed);
    CHECK(diag.client_message.find("Input/output error") != std::string::npos);
    CHECK(wait_durable(j, c).first == cbs::client_errc::journal_failed);
    CHECK_FALSE(wait_durable(j, a).first);
    CHECK(j.records().size() == 2);
    cbs::journal_contents back;
    REQUIRE_FALSE(cbs::parse_journal(j.text(), "memory", back, diag));
    CHECK(back.instances.at("ins-1").group_id == "sg-1");
}

TEST_CASE("memory journal: held durability is released on demand; delayed durability comes in groups") {
    SUBCASE("hold") {
        cbs::memory_journal j({.hold = true});
        const auto seq = j.append(rec("intent", "ins-1"));
        bool called = false;
        j.when_durable(seq, [&](cbs::error_code ec, cbs::diagnostics) { called = !ec; });
        CHECK_FALSE(called);
        CHECK(j.durable() == 0);
        j.release();
        CHECK(called);
        CHECK(j.durable() == seq);
    }
    SUBCASE("delay") {
        cbs::memory_journal j({.durable_delay = 50ms});
        std::uint64_t last = 0;
        for (int i = 0; i < 20; ++i) last = j.append(rec("intent", "ins-" + std::to_string(i)));
        CHECK_FALSE(wait_durable(j, last).first);
        CHECK(j.syncs() < 20);
    }
    SUBCASE("close answers what is held") {
        cbs::memory_journal j({.hold = true});
        const auto seq = j.append(rec("intent", "ins-1"));
        auto p = std::make_shared<std::promise<cbs::error_code>>();
        j.when_durable(seq, [p](cbs::error_code ec, cbs::diagnostics) { p->set_value(ec); });
        j.close();
        CHECK_FALSE(p->get_future().get());
    }
}

TEST_CASE("journal: the default directory is $CBS_STATE_DIR, else $XDG_STATE_HOME/cbs-async, else ~/.local/state") {
    struct saved {
        const char* name;
        std::string value;
        bool set;
    };
    std::vector<saved> env;
    for (const char* n : {"CBS_STATE_DIR", "XDG_STATE_HOME", "HOME"}) {
        const char* v = std::getenv(n);
        env.push_back({n, v ? v : "", v != nullptr});
    }
    ::setenv("CBS_STATE_DIR", "/s", 1);
    ::setenv("XDG_STATE_HOME", "/x", 1);
    ::setenv("HOME", "/h", 1);
    CHECK(cbs::default_journal_path("r1") == "/s/r1.journal");
    ::unsetenv("CBS_STATE_DIR");
    CHECK(cbs::default_journal_path("r1") == "/x/cbs-async/r1.journal");
    ::unsetenv("XDG_STATE_HOME");
    CHECK(cbs::default_journal_path("r1") == "/h/.local/state/cbs-async/r1.journal");
    ::unsetenv("HOME");
    CHECK(cbs::default_journal_path("r1").empty());
    for (const auto& s : env)
        if (s.set)
            ::setenv(s.name, s.value.c_str(), 1);
        else
            ::unsetenv(s.name);

    temp_dir d;
    cbs::diagnostics diag;
    CHECK_FALSE(cbs::make_directories(d.file("a/b/c"), diag));
    struct stat st {};
    CHECK(::stat(d.file("a/b/c").c_str(), &st) == 0);
    spit(d.file("f"), "x");
    CHECK(cbs::make_directories(d.file("f/g"), diag) == cbs::client_errc::invalid_config);
    CHECK(diag.client_message.find(d.file("f")) != std::string::npos);
}
