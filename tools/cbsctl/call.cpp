// cbsctl call: one signed API call (or its dry-run rendering).
#include "cli.hpp"

#include <cbs/client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

namespace cbsctl {

void print_call_usage(std::ostream& os) {
    os << "cbsctl call <Action> [--body JSON | --body @FILE] [--region R] [--endpoint URL]\n"
          "            [--ca-file PEM] [--profile NAME] [--timeout SECONDS]\n"
          "            [--dry-run [--timestamp UNIX_SECONDS]] [--repeat N] [--verbose]\n\n"
          "  --body       request JSON object (default {}); @FILE reads it from FILE\n"
          "  --region     X-TC-Region (default $TENCENTCLOUD_REGION, else ap-guangzhou)\n"
          "  --endpoint   https://host[:port] (default $CBS_ENDPOINT, else https://cbs.tencentcloudapi.com)\n"
          "  --ca-file    PEM CA bundle to trust (default $CBS_CA_FILE, else the system store)\n"
          "  --profile    profile of ~/.tencentcloud/credentials (after TENCENTCLOUD_SECRET_ID/_KEY)\n"
          "  --timeout    seconds for the request/response exchange (default 30)\n"
          "  --dry-run    print the exact HTTP request instead of sending it\n"
          "  --timestamp  fix X-TC-Timestamp (with --dry-run), for reproducible output\n"
          "  --repeat     send the call N times over the connection pool (default 1)\n"
          "  --verbose    report attempts, RequestIds and connection reuse on stderr\n\n"
          "exit status: 0 success, 1 the call failed (API or network error), 2 usage or configuration error\n";
}

namespace {

std::string env_or(const char* name, std::string fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::string(v) : std::move(fallback);
}

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

}  // namespace

int run_call(args& a) {
    if (a.done() || a.peek().starts_with("-")) throw usage_error("call needs an <Action>, e.g. cbsctl call DescribeDisks");
    std::string action = a.next();
    std::string body_arg = "{}";
    std::string region = env_or("TENCENTCLOUD_REGION", "ap-guangzhou");
    std::string endpoint_url = env_or("CBS_ENDPOINT", "https://cbs.tencentcloudapi.com");
    std::string ca_file = env_or("CBS_CA_FILE", "");
    std::string profile;
    long long timeout_s = 30, repeat = 1;
    std::optional<long long> timestamp;
    bool dry_run = false, verbose = false;
    while (!a.done()) {
        if (auto v = a.value("--body")) body_arg = *v;
        else if (auto v = a.value("--region")) region = *v;
        else if (auto v = a.value("--endpoint")) endpoint_url = *v;
        else if (auto v = a.value("--ca-file")) ca_file = *v;
        else if (auto v = a.value("--profile")) profile = *v;
        else if (auto v = a.value("--timeout")) timeout_s = parse_number("--timeout", *v);
        else if (auto v = a.value("--timestamp")) timestamp = parse_number("--timestamp", *v);
        else if (auto v = a.value("--repeat")) repeat = parse_number("--repeat", *v);
        else if (a.flag("--dry-run")) dry_run = true;
        else if (a.flag("--verbose")) verbose = true;
        else throw usage_error("call: unknown option '" + a.peek() + "'");
    }
    if (timestamp && !dry_run) throw usage_error("--timestamp is only allowed with --dry-run");
    if (timeout_s == 0) throw usage_error("--timeout must be at least 1 second");
    if (repeat == 0) throw usage_error("--repeat must be at least 1");
    auto body = parse_body(body_arg);

    cbs::credentials_options copts;
    copts.profile = profile;
    cbs::error_code ec;
    cbs::diagnostics cdiag;
    auto creds = cbs::resolve_credentials(copts, ec, cdiag);
    if (ec) throw usage_error(cdiag.to_string(ec));
    if (!cdiag.client_message.empty()) std::cerr << "cbsctl: warning: " << cdiag.client_message << "\n";

    cbs::client_params params;
    params.region = region;
    params.endpoint = endpoint_url;
    params.creds = std::move(creds);
    params.pool.ca_file = ca_file;
    params.request_timeout = std::chrono::seconds(timeout_s);

    boost::asio::io_context io;
    std::optional<cbs::client> client;
    try {
        client.emplace(io.get_executor(), std::move(params));
    } catch (const cbs::error& e) {
        throw usage_error(e.diag().to_string(e.code()));
    }

    if (dry_run) {
        auto ts = timestamp ? *timestamp
                            : std::chrono::duration_cast<std::chrono::seconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
        std::cout << client->render_request(action, body, ts);
        std::cout.flush();
        return exit_ok;
    }
    if (verbose) std::cerr << "cbsctl: " << action << " -> " << endpoint_url << " as " << client->params().creds.redacted() << "\n";

    int status = exit_ok;
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
            for (long long i = 0; i < repeat && status == exit_ok; ++i) {
                auto start = std::chrono::steady_clock::now();
                auto r = co_await client->async_call(action, body, std::nothrow);
                auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
                if (r.ec) {
                    std::cerr << "cbsctl: " << action << " failed: " << r.diag.to_string(r.ec) << "\n";
                    status = exit_failed;
                    co_return;
                }
                std::cout << boost::json::serialize(r.value) << "\n";
                if (verbose) {
                    auto s = client->stats();
                    std::cerr << "cbsctl: call " << (i + 1) << ": " << ms.count() << " ms, attempts "
                              << r.diag.attempts << ", RequestId " << r.diag.request_id << ", connections opened "
                              << s.connections_opened << ", reused " << s.connection_reuses << "\n";
                }
            }
        },
        boost::asio::detached);
    io.run();
    return status;
}

}  // namespace cbsctl
