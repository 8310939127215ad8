#include <cbs/journal.hpp>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

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

}  // namespace

error_code parse_journal(std::string_view text, std::string_view source, journal_contents& out, diagnostics& diag) {
    out = {};
    std::size_t line_no = 0;
    while (!text.empty()) {
        ++line_no;
        auto nl = text.find('\n');
        if (nl == std::string_view::npos) break;  // torn last record: the run died mid-write
        auto line = text.substr(0, nl);
        text.remove_prefix(nl + 1);
        if (line.empty()) continue;
        const std::string where = std::string(source) + ":" + std::to_string(line_no);
        boost::system::error_code jec;
        auto v = boost::json::parse(line, jec);
        if (jec || !v.is_object()) return bad(diag, where + ": not a journal record (JSON object expected)");
        const auto& o = v.get_object();
        auto type = str(o, "type");
        auto run = str(o, "run_id");
        if (run.empty()) return bad(diag, where + ": record has no run_id");
        if (out.run_id.empty()) out.run_id = run;
        if (run != out.run_id)
            return bad(diag, where + ": record of run '" + std::string(run) + "' in the journal of run '" +
                                 out.run_id + "' (use one journal per run)");
        ++out.records;
        if (type == "run") {
            out.name_prefix = str(o, "name_prefix");
            continue;
        }
        if (type != "created" && type != "normal" && type != "unknown" && type != "failed")
            return bad(diag, where + ": unknown record type '" + std::string(type) + "'");
        auto instance = str(o, "instance");
        if (instance.empty()) return bad(diag, where + ": record has no instance");
        auto& e = out.instances[std::string(instance)];
        e.state = type;
        if (auto n = str(o, "name"); !n.empty()) e.group_name = n;
        if (auto g = str(o, "group_id"); !g.empty()) e.group_id = g;
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

journal_writer::~journal_writer() {
    if (fd_ >= 0) ::close(fd_);
}

error_code journal_writer::open(const std::string& path, std::string_view run_id, std::string_view name_prefix,
                                diagnostics& diag) {
    path_ = path;
    run_id_ = run_id;
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd_ < 0) {
        diag.client_message = "cannot open journal '" + path + "' for appending: " + std::strerror(errno);
        return client_errc::invalid_config;
    }
    struct stat st{};
    if (::fstat(fd_, &st) == 0 && st.st_size == 0) {
        boost::json::object o{{"type", "run"}, {"run_id", run_id}, {"name_prefix", name_prefix}};
        return append(boost::json::serialize(o) + "\n", diag);
    }
    return {};
}

error_code journal_writer::record(std::string_view state, std::string_view instance_id, std::string_view group_name,
                                  std::string_view group_id, diagnostics& diag) {
    if (fd_ < 0) return {};
    boost::json::object o{{"type", state}, {"run_id", run_id_}, {"instance", instance_id}, {"name", group_name}};
    if (!group_id.empty()) o["group_id"] = group_id;
    return append(boost::json::serialize(o) + "\n", diag);
}

error_code journal_writer::append(const std::string& line, diagnostics& diag) {
    // One write(2) per record: with O_APPEND it lands whole or (on a crash)
    // torn at the end, which the reader skips.
    std::size_t done = 0;
    while (done < line.size()) {
        auto n = ::write(fd_, line.data() + done, line.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            diag.client_message = "cannot write journal '" + path_ + "': " + std::strerror(errno);
            return client_errc::invalid_config;
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fdatasync(fd_) != 0) {
        diag.client_message = "cannot flush journal '" + path_ + "': " + std::strerror(errno);
        return client_errc::invalid_config;
    }
    return {};
}

}  // namespace cbs
