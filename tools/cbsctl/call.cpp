// cbsctl call: one signed API call (or its dry-run rendering).
#include "call_extras.hpp"
#include "cli.hpp"

#include <CLI/CLI.hpp>

#include <cbs/client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

namespace cbsctl {

namespace {

boost::json::object parse_body(const std::string& arg) {
    std::string text = arg;
    std::string source = "--body";
    if (!arg.empty() && arg.front() == '@') {
        source = "--body file '" + arg.substr(1) + "'";
        std::ifstream in(arg.substr(1), std::ios::binary);
        if (!in) throw usage_error("cannot read " + source + ": " + std::strerror(errno));
        std::ostringstream ss;
        ss << in.rdbuf();
        text = std::move(ss).str();
    }
    boost::system::error_code ec;
    auto v = boost::json::parse(text, ec);
    if (ec) throw usage_error(source + " is not valid JSON: " + ec.message());
    if (!v.is_object()) throw usage_error(source + " must be a JSON object, like {\"DiskIds\":[\"disk-xxxxxxxx\"]}");
    return std::move(v.get_object());
}

/// The rendered request with the value of X-TC-Token (a session token: a
/// credential) replaced by "***" and its length. Every other byte is kept.
std::string mask_token(std::string wire) {
    static constexpr std::string_view name = "\r\nx-tc-token:";
    const auto head_end = wire.find("\r\n\r\n");
    for (std::size_t i = 0; i + name.size() <= head_end && head_end != std::string::npos; ++i) {
        bool match = true;
        for (std::size_t k = 0; k < name.size() && match; ++k) {
            char c = wire[i + k];
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
            match = c == name[k];
        }
        if (!match) continue;
        auto value = i + name.size();
        while (value < head_end && wire[value] == ' ') ++value;
        const auto end = wire.find("\r\n", value);
        const auto len = end - value;
        wire.replace(value, len, "*** (" + std::to_string(len) + " characters, masked)");
        break;
    }
    return wire;
}

}  // namespace

namespace {

struct call_options {
    std::string action;
    std::string body_arg = "{}";
    connection_options conn;
    long long repeat = 1;
    std::optional<long long> timestamp;
    std::optional<std::chrono::milliseconds> deadline;
    bool dry_run = false;
    bool all_pages = false;
    bool table = false;               ///< --output table (json is the default, the answer as it came)
    std::vector<std::string> extras;  ///< what CLI11 left over: tccli-style --Name VALUE parameters
};

int run_call(const call_options& o);

}  // namespace

command_runner add_call_command(CLI::App& root) {
    auto o = std::make_shared<call_options>();
    auto* cmd = root.add_subcommand("call", "send one signed Tencent Cloud API 3.0 call to CBS and print the answer");
    cmd->add_option("action", o->action, "the API action, e.g. DescribeDisks, CreateSnapshotGroup")
        ->type_name("ACTION");
    cmd->add_option("--body", o->body_arg, "request JSON object; @FILE reads it from FILE")->capture_default_str();
    add_duration_option(*cmd, "--deadline", o->deadline, "the whole call, retries included (default 10m)");
    cmd->add_flag("--dry-run", o->dry_run, "print the exact HTTP request instead of sending it (X-TC-Token masked)");
    cmd->add_option("--timestamp", o->timestamp, "fix X-TC-Timestamp (with --dry-run), for reproducible output")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--repeat", o->repeat, "send the call N times over the connection pool")
        ->type_name("N")
        ->check(CLI::Range(1LL, 1'000'000'000LL))
        ->capture_default_str();
    cmd->add_flag("--all-pages", o->all_pages,
                  "Describe* actions: every page (Offset, Limit 100) merged into one answer, its *Set holding "
                  "every item");
    cmd->add_option_function<std::string>(
           "--output,-o",
           [o](const std::string& v) {
               if (v != "json" && v != "table") throw usage_error("--output expects json or table, got '" + v + "'");
               o->table = v == "table";
           },
           "json (the answer as it came, the default) or table (the *Set's items, their scalar fields as columns)")
        ->type_name("FORMAT");
    add_connection_options(*cmd, o->conn);
    // tccli-style parameters (--DiskIds '["disk-1"]') cannot be declared:
    // CLI11 leaves them over and run_call reads them (call_extras.hpp).
    cmd->allow_extras();
    cmd->footer(
        "Parameters may also be given as tccli does, next to --body: --Name VALUE (Name starts with an\n"
        "upper-case letter, VALUE is JSON or a plain string), e.g. --DiskIds '[\"disk-1\"]' --Limit 100.\n"
        "The action comes first.\n"
        "Exit status: 0 success, 1 the call failed (API or network error), 2 usage or configuration error.\n"
        "Examples: cbsctl call DescribeDisks --body '{\"Limit\": 100}'\n"
        "          cbsctl call DescribeDisks --all-pages --Filters "
        "'[{\"Name\":\"instance-id\",\"Values\":[\"ins-1\"]}]' -o table");
    return [o, cmd] {
        o->extras = cmd->remaining();
        return run_call(*o);
    };
}

namespace {

int run_call(const call_options& o) {
    const auto& action = o.action;
    const auto& conn = o.conn;
    const auto& timestamp = o.timestamp;
    const auto& deadline = o.deadline;
    const bool dry_run = o.dry_run;
    const long long repeat = o.repeat;
    if (action.empty() || action.starts_with("-"))
        throw usage_error("call needs an <Action>, e.g. cbsctl call DescribeDisks");
    if (!call_detail::is_action_name(action))
        throw usage_error("call: '" + action +
                          "' is not an action name (the action comes first: cbsctl call DescribeDisks --Limit 100)");
    if (o.all_pages && !action.starts_with("Describe"))
        throw usage_error("--all-pages is only for Describe* actions (they page with Offset and Limit), not " + action);
    if (o.all_pages && repeat > 1) throw usage_error("--all-pages and --repeat are exclusive");
    if (timestamp && !dry_run) throw usage_error("--timestamp is only allowed with --dry-run");
    const auto& body_arg = o.body_arg;
    auto body = parse_body(body_arg);
    call_detail::merge_tccli_params(o.extras, body);
    if (o.all_pages && dry_run) {  // the first page's request
        if (!body.contains("Offset")) body["Offset"] = 0;
        body["Limit"] = 100;
    }
    auto params = make_client_params(conn);
    if (deadline) params.retry.deadline = *deadline;
    const bool verbose = conn.verbose;
    const std::string endpoint_url = params.endpoint;

    boost::asio::io_context io;
    auto client = make_client(io.get_executor(), std::move(params));

    if (dry_run && client.params().credentials_provider)
        throw usage_error(
            "no credentials for --dry-run: it signs with long-lived keys (environment or profile), and none "
            "were found (or a role was asked for)");
    if (dry_run) {
        auto ts =
            timestamp
                ? *timestamp
                : std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                      .count();
        std::cout << mask_token(client.render_request(action, body, ts));
        std::cout.flush();
        return exit_ok;
    }
    if (verbose && client.params().credentials_provider)
        std::cerr << "cbsctl: " << action << " -> " << endpoint_url
                  << ", credentials from the default chain (fetched on the first call)\n";
    else if (verbose)
        std::cerr << "cbsctl: " << action << " -> " << endpoint_url << " as " << client.params().creds.redacted()
                  << ", credentials from " << client.params().creds.source << "\n";
    // Where the credentials came from, their refreshes and any clock skew
    // learnt (never a key or a token).
    const auto credentials_line = [&] {
        const auto s = client.stats();
        std::string line = "cbsctl: credentials from " +
                           (s.credential_source.empty() ? std::string("(none yet)") : s.credential_source) +
                           ", fetches " + std::to_string(s.credential_fetches) + ", refreshes " +
                           std::to_string(s.credential_refreshes);
        if (s.token_retries) line += ", token retries " + std::to_string(s.token_retries);
        if (s.clock_corrections)
            line += ", clock skew " + std::to_string(s.clock_skew_seconds) +
                    " s (server minus local; timestamps corrected)";
        return line + "\n";
    };

    int status = exit_ok;
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
            for (long long i = 0; i < repeat && status == exit_ok; ++i) {
                auto start = std::chrono::steady_clock::now();
                std::size_t pages = 1;
                // (if/else, not ?: -- GCC 12 miscompiles co_await in a conditional)
                cbs::result<boost::json::object> r;
                if (o.all_pages)
                    r = co_await call_detail::async_call_all_pages(client, action, body, pages);
                else
                    r = co_await client.async_call(action, body, cbs::as_result);
                auto ms =
                    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
                if (r.ec) {
                    if (verbose) std::cerr << credentials_line();
                    std::cerr << "cbsctl: " << action << " failed: " << r.diag.to_string(r.ec) << "\n";
                    status = exit_failed;
                    co_return;
                }
                if (o.table)
                    call_detail::print_answer_table(std::cout, std::cerr, r.value);
                else
                    std::cout << boost::json::serialize(r.value) << "\n";
                if (verbose) {
                    auto s = client.stats();
                    if (o.all_pages) std::cerr << "cbsctl: --all-pages: " << pages << " calls\n";
                    std::cerr << "cbsctl: call " << (i + 1) << ": " << ms.count() << " ms, attempts " << r.diag.attempts
                              << ", RequestId " << r.diag.request_id << ", connections opened " << s.connections_opened
                              << ", reused " << s.connection_reuses << "\n";
                    std::cerr << credentials_line();
                }
            }
        },
        boost::asio::detached);
    io.run();
    return status;
}

}  // namespace

}  // namespace cbsctl
