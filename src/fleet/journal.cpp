// The journal's format: parsing, formatting, header checks, paths. No
// threads here (the fuzz target links this file alone); the file journal is
// in journal_file.cpp, the test sink in journal_memory.cpp.
#include <cbs/journal.hpp>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <openssl/evp.h>

#include <sys/stat.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace cbs {
namespace {

error_code bad(diagnostics& diag, std::string what) {
    diag.client_message = std::move(what);
    return client_errc::invalid_request;
}

std::string_view str(const boost::json::object& o, std::string_view key) {
    auto it = o.find(key);
    return it != o.end() && it->value().is_string() ? std::string_view(it->value().get_string()) : std::string_view{};
}

std::int64_t int64(const boost::json::object& o, std::string_view key) {
    auto it = o.find(key);
    if (it == o.end()) return 0;
    if (it->value().is_int64()) return it->value().get_int64();
    if (it->value().is_uint64() && it->value().get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
        return static_cast<std::int64_t>(it->value().get_uint64());
    return 0;
}

constexpr std::string_view states[] = {"intent", "created", "normal", "unknown", "failed", "skipped", "deleted"};

void apply(journal_entry& e, std::string_view type, std::string_view name, std::string_view group, std::int64_t ms) {
    if (!name.empty()) e.group_name = name;
    if (type == "deleted") {
        if (!group.empty()) {
            e.deleted_group_ids.emplace_back(group);
            if (e.group_id == group) e.group_id.clear();
        }
        return;
    }
    e.state = type;
    if (type == "intent") {
        ++e.intents;
        e.last_intent_unix_ms = ms;
    }
    if (!group.empty()) e.group_id = group;
}

}  // namespace

bool is_journal_state(std::string_view state) noexcept {
    for (auto s : states)
        if (s == state) return true;
    return false;
}

std::string secret_id_fingerprint(std::string_view secret_id) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(secret_id.data(), secret_id.size(), md, &len, EVP_sha256(), nullptr) != 1) return {};
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < 8 && i < len; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

error_code parse_journal(std::string_view text, std::string_view source, journal_contents& out, diagnostics& diag) {
    out = {};
    std::size_t line_no = 0, offset = 0;
    bool have_header = false;
    while (offset < text.size()) {
        ++line_no;
        auto nl = text.find('\n', offset);
        if (nl == std::string_view::npos) {  // torn last record: the run died mid-write
            out.torn_tail = true;
            break;
        }
        auto line = text.substr(offset, nl - offset);
        offset = nl + 1;
        out.valid_bytes = offset;
        if (line.empty()) continue;
        const std::string where = std::string(source) + ":" + std::to_string(line_no);
        boost::system::error_code jec;
        auto v = boost::json::parse(line, jec);
        if (jec || !v.is_object()) return bad(diag, where + ": not a journal record (JSON object expected)");
        const auto& o = v.get_object();
        auto type = str(o, "type");
        auto run = str(o, "run_id");
        if (type == "header" || type == "run") {  // "run": the version-1 header
            if (have_header) return bad(diag, where + ": a second journal header (use one journal per run)");
            if (run.empty()) return bad(diag, where + ": the journal header has no run_id");
            have_header = true;
            out.header.run_id = run;
            out.header.name_prefix = str(o, "name_prefix");
            out.header.region = str(o, "region");
            out.header.endpoint = str(o, "endpoint");
            out.header.secret_id_fingerprint = str(o, "secret_id_fingerprint");
            out.header.shard = str(o, "shard");
            continue;
        }
        if (!have_header) return bad(diag, where + ": a record before the journal header");
        if (!run.empty() && run != out.header.run_id)
            return bad(diag, where + ": record of run '" + std::string(run) + "' in the journal of run '" +
                                 out.header.run_id + "' (use one journal per run)");
        if (!is_journal_state(type)) return bad(diag, where + ": unknown record type '" + std::string(type) + "'");
        auto instance = str(o, "instance");
        if (instance.empty()) return bad(diag, where + ": record has no instance");
        // The writer always names the group it deleted; a deletion of nothing
        // would leave an entry no later run could act on (found by fuzz_journal).
        if (type == "deleted" && str(o, "group_id").empty())
            return bad(diag, where + ": a 'deleted' record names no group_id");
        ++out.records;
        apply(out.instances[std::string(instance)], type, str(o, "name"), str(o, "group_id"), int64(o, "ms"));
    }
    return {};
}

std::string format_journal_header(const journal_header& h) {
    boost::json::object o{{"type", "header"},
                          {"version", 2},
                          {"run_id", h.run_id},
                          {"name_prefix", h.name_prefix},
                          {"region", h.region},
                          {"endpoint", h.endpoint},
                          {"secret_id_fingerprint", h.secret_id_fingerprint}};
    if (!h.shard.empty()) o["shard"] = h.shard;  // unsplit runs keep the header they always had
    return boost::json::serialize(o) + "\n";
}

std::string format_journal_record(const journal_record& r) {
    boost::json::object o{{"type", r.state}, {"instance", r.instance_id}};
    if (!r.group_name.empty()) o["name"] = r.group_name;
    if (!r.group_id.empty()) o["group_id"] = r.group_id;
    o["ms"] = r.unix_ms;
    return boost::json::serialize(o) + "\n";
}

error_code check_journal_header(const journal_header& in_journal, const journal_header& this_run, std::string_view path,
                                diagnostics& diag) {
    struct field {
        const char* option;
        const std::string journal_header::*member;
        bool always;
    };
    static constexpr field fields[] = {
        {"--run-id", &journal_header::run_id, true},
        {"--name-prefix", &journal_header::name_prefix, true},
        {"--region", &journal_header::region, false},
        {"--endpoint", &journal_header::endpoint, false},
        {"credentials (SecretId fingerprint)", &journal_header::secret_id_fingerprint, false},
        {"--shard", &journal_header::shard, true},
    };
    for (const auto& f : fields) {
        const auto& a = in_journal.*f.member;
        const auto& b = this_run.*f.member;
        if (a == b || (!f.always && a.empty())) continue;
        std::string m = "journal '";
        m += path;
        m += "' was written for ";
        m += f.option;
        m += " '";
        m += a.empty() && f.member == &journal_header::shard ? "1/1" : a;  // no shard: the whole fleet
        m += "'; this run has '";
        m += b.empty() && f.member == &journal_header::shard ? "1/1" : b;
        m += "' (resume with the same value, or use another journal)";
        diag.client_message = std::move(m);
        return client_errc::invalid_config;
    }
    return {};
}

error_code read_journal(const std::string& path, journal_contents& out, diagnostics& diag) {
    out = {};
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        if (errno == ENOENT) return {};
        diag.client_message = "cannot read journal '" + path + "': " + std::strerror(errno);
        return client_errc::invalid_config;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse_journal(ss.str(), path, out, diag);
}

std::string default_journal_dir() {
    auto env = [](const char* name) -> std::string {
        const char* v = std::getenv(name);
        return v && *v ? v : "";
    };
    if (auto d = env("CBS_STATE_DIR"); !d.empty()) return d;
    if (auto d = env("XDG_STATE_HOME"); !d.empty()) return d + "/cbs-async";
    if (auto d = env("HOME"); !d.empty()) return d + "/.local/state/cbs-async";
    return {};
}

std::string default_journal_path(std::string_view run_id, std::size_t shard_index, std::size_t shard_count) {
    auto dir = default_journal_dir();
    if (dir.empty()) return {};
    std::string path = dir + "/" + std::string(run_id);
    if (shard_count > 1) path += ".shard-" + std::to_string(shard_index) + "-of-" + std::to_string(shard_count);
    return path + ".journal";
}

error_code make_directories(const std::string& dir, diagnostics& diag) {
    if (dir.empty()) return {};
    for (std::size_t pos = 1; pos <= dir.size(); ++pos) {
        if (pos != dir.size() && dir[pos] != '/') continue;
        const std::string part = dir.substr(0, pos);
        if (::mkdir(part.c_str(), 0700) == 0 || errno == EEXIST) continue;
        diag.client_message = "cannot create directory '" + part + "': " + std::strerror(errno);
        return client_errc::invalid_config;
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        diag.client_message = "'" + dir + "' is not a directory";
        return client_errc::invalid_config;
    }
    return {};
}

}  // namespace cbs
