// cbsctl emulator: runs the CBS emulator until SIGINT/SIGTERM (its options:
// emulator_options.cpp).
#include "emulator_cmd.hpp"

#include <CLI/CLI.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>

namespace cbsctl {

namespace {

using emulator_cli::emulator_options;

int run_emulator(emulator_options& o);

}  // namespace

command_runner add_emulator_command(CLI::App& root) {
    auto o = std::make_shared<emulator_options>();
    auto* cmd = root.add_subcommand("emulator", "run the CBS emulator as a local HTTPS server");
    emulator_cli::add_emulator_options(cmd, *o);
    cmd->footer(
        std::string("Durations: ") + duration_syntax +
        "; --creating-time, --list-lag, --latency and --slow take 0 and at most 1d. Rates (--rate ACTION=RATE): "
        "20, 20/s, 1200/m, 72000/h, a whole number of requests per second; 0 is unlimited.\n\n"
        "Prints `export` lines for CBS_ENDPOINT, CBS_CA_FILE, the credentials, CBS_STS_ENDPOINT and, when enabled, "
        "CBS_METADATA_ENDPOINT and TKE_REGION/TKE_PROVIDER_ID/TKE_WEB_IDENTITY_TOKEN_FILE/TKE_ROLE_ARN (never a "
        "token), then serves until SIGINT or SIGTERM. With --state-dir the fleet state is kept there across "
        "restarts (a damaged state.json: exit 1, naming the file).\n\n"
        "Exit status: 0 stopped by a signal; 1 failed to start; 2 usage error.");
    return [o] { return run_emulator(*o); };
}

namespace {

/// Writes `text` to `path`, readable by the owner only (created 0600, and
/// chmod-ed if it existed). Throws std::runtime_error.
void write_private_file(const std::string& path, const std::string& text) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
    const bool ok =
        ::fchmod(fd, 0600) == 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    const int err = errno;
    ::close(fd);
    if (!ok) throw std::runtime_error("cannot write " + path + ": " + std::strerror(err));
}

void print_exports(const emulator_options& o, cbs::emu::emulator& emu, bool keys_given, const std::string& token_path) {
    const auto& p = o.p;
    const auto accounts = emu.accounts();
    const auto regions = emu.fleet_regions();
    std::string where;
    for (std::size_t i = 0; i < regions.size(); ++i) where += (i ? ", " : "") + regions[i];
    std::cout << "# CBS emulator on " << emu.endpoint() << " (" << p.fleet.instances << " instances in " << where
              << ", seed " << p.fleet.seed << (p.rate_limits.enabled ? "" : ", no rate limits")
              << "); point a client at it with:\n"
              << "export CBS_ENDPOINT=" << emu.endpoint() << "\n"
              << "export CBS_CA_FILE=" << emu.ca_file() << "\n"
              << "export TENCENTCLOUD_REGION=" << p.fleet.region << "\n"
              << "export TENCENTCLOUD_SECRET_ID=" << accounts.front().secret_id << "\n";
    if (keys_given)
        std::cout << "# TENCENTCLOUD_SECRET_KEY: the key given (not echoed)\n";
    else
        std::cout << "export TENCENTCLOUD_SECRET_KEY=" << accounts.front().secret_key << "\n";
    if (!accounts.front().token.empty()) std::cout << "# TENCENTCLOUD_SESSION_TOKEN: the token given (not echoed)\n";
    for (std::size_t i = 1; i < accounts.size(); ++i)
        std::cout << "# also accepted: " << accounts[i].secret_id
                  << (accounts[i].uin.empty() ? "" : " (account " + accounts[i].uin + ")") << "\n";
    if (p.rate_limits.scope == cbs::emu::rate_scope::account)
        std::cout << "# rate windows shared by the keys of one account\n";
    if (p.rate_limits.per_region) std::cout << "# rate windows per region\n";
    if (p.fleet.snapshot_quota != 0)
        std::cout << "# snapshot quota: " << p.fleet.snapshot_quota << " snapshots per region\n";
    if (p.persist_state) std::cout << "# fleet state kept in " << emu.state_dir() << "/state.json\n";
    std::cout << "export CBS_STS_ENDPOINT=" << emu.endpoint() << "\n# STS AssumeRole accepts";
    for (std::size_t i = 0; i < p.roles.size(); ++i) std::cout << (i ? ", " : " ") << p.roles[i];
    std::cout << " (temporary credentials live " << p.temp_credential_lifetime.count() << " s)\n";
    if (p.metadata) {
        std::cout << "export CBS_METADATA_ENDPOINT=" << emu.metadata_endpoint() << "\n";
        if (p.metadata_role.empty())
            std::cout << "# the metadata service has no role bound (404)\n";
        else
            std::cout << "# the metadata service serves role " << p.metadata_role << "\n";
    }
    if (!p.oidc_provider_id.empty())
        std::cout << "export TKE_REGION=" << p.fleet.region << "\n"
                  << "export TKE_PROVIDER_ID=" << p.oidc_provider_id << "\n"
                  << "export TKE_WEB_IDENTITY_TOKEN_FILE=" << token_path << "\n"
                  << "export TKE_ROLE_ARN=" << p.roles.front() << "\n";
    std::cout << "# stop with Ctrl-C (SIGINT) or SIGTERM" << std::endl;
}

int run_emulator(emulator_options& o) {
    const bool keys_given = emulator_cli::finish_options(o);
    auto& p = o.p;
    boost::asio::io_context io;
    std::optional<cbs::emu::emulator> emu;
    p.notice = [](const std::string& what) { std::cerr << what << "\n"; };
    try {
        emu.emplace(io.get_executor(), p);
        emu->start();
    } catch (const std::invalid_argument& e) {
        throw usage_error(e.what());
    } catch (const std::exception& e) {
        std::cerr << "cbsctl: cannot start the emulator: " << e.what() << "\n";
        return exit_failed;
    }
    std::string token_path;
    if (!p.oidc_provider_id.empty()) {
        token_path = o.oidc_token_file ? std::filesystem::absolute(*o.oidc_token_file).string()
                                       : emu->state_dir() + "/web-identity-token";
        if (!o.oidc_token_file) {
            try {
                write_private_file(token_path, p.oidc_token + "\n");
            } catch (const std::exception& e) {
                std::cerr << "cbsctl: cannot start the emulator: " << e.what() << "\n";
                return exit_failed;
            }
        }
    }
    print_exports(o, *emu, keys_given, token_path);

    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        std::cerr << "cbsctl emulator: signal " << sig << ", stopping\n";
        emu->stop();
    });
    io.run();
    return exit_ok;
}

}  // namespace

}  // namespace cbsctl
