// cbsctl: command-line client for Tencent Cloud CBS snapshot groups.
#include "cli.hpp"

#include <cbsctl_version.hpp>

#include <CLI/CLI.hpp>

#include <openssl/crypto.h>
#include <boost/version.hpp>

#include <iostream>
#include <map>

namespace cbsctl {

std::string version_text() {
    return std::string("cbsctl ") + CBSCTL_VERSION + " (commit " + CBSCTL_COMMIT + "), Boost " +
           std::to_string(BOOST_VERSION / 100000) + "." + std::to_string(BOOST_VERSION / 100 % 1000) + "." +
           std::to_string(BOOST_VERSION % 100) + ", " + OpenSSL_version(OPENSSL_VERSION);
}

}  // namespace cbsctl

namespace {

constexpr const char* exit_footer =
    "Exit status (every command): 0 success; 1 failure (a call failed, instances not finished, groups\n"
    "not deleted); 2 usage or configuration error; 130 interrupted. Each command's --help tells more.";

/// The subcommand the user named (deepest first), for error messages.
std::string command_path(const CLI::App& root) {
    std::string path = "cbsctl";
    const CLI::App* app = &root;
    while (true) {
        auto subs = app->get_subcommands();
        if (subs.empty()) break;
        app = subs.front();
        path += " " + app->get_name();
    }
    return path;
}

/// CLI11's message, in the words the rest of cbsctl uses for an unknown
/// option or argument.
std::string plain_message(const CLI::ParseError& e) {
    std::string m = e.what();
    for (std::string_view lead :
         {"The following argument was not expected: ", "The following arguments were not expected: "})
        if (m.starts_with(lead)) {
            const auto rest = m.substr(lead.size());
            return (rest.starts_with("-") ? "unknown option '" : "unexpected argument '") + rest + "'";
        }
    return m;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App root(
        "cbsctl: snapshot, list, prune and restore Tencent Cloud CBS snapshot groups, for one instance "
        "or a whole fleet.",
        "cbsctl");
    root.set_version_flag("--version", cbsctl::version_text(), "print the version, commit, Boost and OpenSSL");
    root.require_subcommand(1);
    root.footer(exit_footer);
    std::map<const CLI::App*, cbsctl::command_runner> runners;
    for (auto add : {cbsctl::add_call_command, cbsctl::add_snapshot_fleet_command, cbsctl::add_demo_command,
                     cbsctl::add_emulator_command, cbsctl::add_groups_command, cbsctl::add_prune_command,
                     cbsctl::add_restore_command, cbsctl::add_report_command}) {
        const auto before = root.get_subcommands({}).size();
        auto run = add(root);
        runners[root.get_subcommands({}).at(before)] = std::move(run);
    }
    if (argc == 1) {
        std::cerr << root.help() << "\nusage: cbsctl <command> [options]; cbsctl <command> --help for each\n";
        return cbsctl::exit_usage;
    }
    if (argv[1][0] != '-') {
        bool known = false;
        for (const auto* sub : root.get_subcommands({})) known = known || sub->get_name() == argv[1];
        if (!known) {
            std::cerr << "cbsctl: unknown command '" << argv[1] << "'\nRun 'cbsctl --help' for the commands.\n";
            return cbsctl::exit_usage;
        }
    }
    try {
        root.parse(argc, argv);
        // A command with subcommands of its own (groups) runs through its
        // one runner, which looks at which subcommand was given.
        for (auto& [app, run] : runners)
            if (app->parsed()) return run();
        return cbsctl::exit_usage;
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return root.exit(e);  // --help, --version
        std::cerr << command_path(root) << ": " << plain_message(e) << "\n"
                  << "Run '" << command_path(root) << " --help' for the options.\n";
        return cbsctl::exit_usage;
    } catch (const cbsctl::usage_error& e) {
        std::cerr << "cbsctl: " << e.what() << "\n";
        return cbsctl::exit_usage;
    } catch (const cbs::error& e) {  // a failure no command turned into a message of its own
        std::cerr << "cbsctl: " << e.diag().to_string(e.code()) << "\n";
        return cbsctl::exit_failed;
    } catch (const std::exception& e) {
        std::cerr << "cbsctl: " << e.what() << "\n";
        return cbsctl::exit_failed;
    }
}
