// SPDX-License-Identifier: MIT
// fleet: deploys NixOS machines through build nodes. Parses the command line, runs one
// command, and maps errors to the exit codes the README documents.
#include "coordinator/commands/commands.hpp"
#include "uploader/base/exit_code.hpp"
#include "uploader/base/process.hpp"
#include "uploader/protocol/action.hpp"

#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>

namespace {

void add_selection_options(CLI::App* command, fleet::coordinator::SelectionOptions& options) {
  command->add_option("-c,--config", options.config_file, "fleet.json (default: ./fleet.json, searched upward)");
  command->add_option("--on", options.on, "Nodes to act on: names, globs (web-*) and @tags, comma-separated");
  command->add_flag("--json", options.json, "Machine-readable output");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace fleet;
  CLI::App app{"fleet: deploy NixOS machines through build nodes, from a laptop without Nix"};
  app.set_version_flag("--version", std::string("fleet ") + FLEET_VERSION);
  app.require_subcommand(1);

  coordinator::SyncOptions sync;
  auto* sync_command = app.add_subcommand("sync-and-build", "Pack, upload, build, deliver and activate the selected nodes");
  add_selection_options(sync_command, sync.selection);
  std::string sync_action;
  sync_command->add_option("--action", sync_action, "switch | boot | test | dry-activate | build (default: each node's, else switch)")
      ->check(CLI::IsMember(protocol::action_names()));
  sync_command->add_option("--jobs", sync.jobs, "Build locations worked on at once")->check(CLI::Range(1, 256));
  sync_command->add_flag("--unattended", sync.unattended, "Never prompt (for cron and timers)");
  sync_command->add_option("--report", sync.report_file, "Also write the run report to this file");
  sync_command->add_flag("--update-inputs", sync.update_inputs, "Run `nix flake update` on the first build node first");
  sync_command->add_flag("--skip-unchanged", sync.skip_unchanged,
                         "Do nothing when source and inputs equal the last successful run's");
  sync_command->add_option("--notify", sync.notify, "After the run, pipe the summary to this /bin/sh command");

  coordinator::SelectionOptions plan;
  auto* plan_command = app.add_subcommand("plan", "Print who builds what, and why; touches nothing");
  add_selection_options(plan_command, plan);

  coordinator::PackOptions pack;
  auto* pack_command = app.add_subcommand("pack", "Pack the source as sync-and-build would and print its hash and size");
  pack_command->add_option("-c,--config", pack.config_file, "fleet.json (default: ./fleet.json, searched upward)");
  pack_command->add_flag("--no-cache", pack.no_cache, "Pack from scratch; leave the tarball cache alone");
  pack_command->add_flag("--json", pack.json, "Machine-readable output");

  coordinator::ImportOptions import;
  auto* import_command = app.add_subcommand("import", "Print another tool's inventory as fleet's");
  import_command->require_subcommand(1);
  import_command->fallthrough();
  import_command->add_option("-c,--config", import.config_file, "fleet.json (default: ./fleet.json, searched upward)");
  auto* import_colmena = import_command->add_subcommand(
      "colmena", "Evaluate the flake's colmenaHive on a builder and print its nodes as fleet.json nodes");
  import_colmena->add_flag("--nix", import.nix, "Print deployment.fleet settings for each host's configuration instead");

  coordinator::SecretsOptions secrets;
  auto* secrets_command = app.add_subcommand("secrets", "Manage age-encrypted secrets");
  secrets_command->require_subcommand(1);
  secrets_command->fallthrough();  // -c and -i may also follow the action
  secrets_command->add_option("-c,--config", secrets.config_file, "fleet.json (default: ./fleet.json, searched upward)");
  secrets_command->add_option("-i,--identity", secrets.identity,
                              "Admin identity (age key file or ssh-ed25519 private key); default $FLEET_AGE_IDENTITY, "
                              "~/.config/fleet/age.key, ~/.ssh/id_ed25519");
  auto* encrypt = secrets_command->add_subcommand("encrypt", "Encrypt stdin to <secretsDir>/NAME.age for the selected nodes and admins");
  encrypt->add_option("name", secrets.name, "Secret name")->required();
  encrypt->add_option("--for", secrets.for_nodes, "Nodes that get it: names, globs, @tags")->required();
  auto* edit = secrets_command->add_subcommand("edit", "Decrypt, edit in $EDITOR, re-encrypt");
  edit->add_option("name", secrets.name, "Secret name")->required();
  auto* rekey = secrets_command->add_subcommand("rekey", "Re-encrypt every secret whose recipients changed");
  rekey->add_flag("--force", secrets.force, "Also re-encrypt files whose X25519 stanzas cannot be checked");
  auto* list = secrets_command->add_subcommand("list", "Which secret goes to which nodes, and whether it is up to date");
  list->add_flag("--json", secrets.json, "Machine-readable output");
  coordinator::HistoryOptions history;
  auto* runs_command = app.add_subcommand("runs", "List past runs");
  runs_command->add_flag("--json", history.json, "Machine-readable output");
  auto* report_command = app.add_subcommand("report", "Show one past run per node (default: the newest)");
  report_command->add_option("run", history.run, "Run id or a unique prefix of one");
  report_command->add_flag("--json", history.json, "The report itself, as JSON");

  // A peer that closes its end must surface as an error on that connection, not kill the run.
  std::signal(SIGPIPE, SIG_IGN);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : to_int(ExitCode::usage);
  }
  std::string command_line = "fleet";
  for (int i = 1; i < argc; ++i) {
    command_line += std::string(" ") + argv[i];
  }
  try {
    if (*sync_command) {
      sync.command_line = command_line;
      if (!sync_action.empty()) {
        sync.action = protocol::parse_action(sync_action);
      }
      return coordinator::run_sync_and_build(sync);
    }
    if (*secrets_command) {
      keep_out_of_core_dumps();  // it holds the age identity and, for edit, the plaintext
      for (const auto* sub : secrets_command->get_subcommands()) {
        secrets.action = sub->get_name();
      }
      return coordinator::run_secrets_command(secrets);
    }
    if (*import_command) {
      return coordinator::run_import_command(import);
    }
    if (*pack_command) {
      return coordinator::run_pack_command(pack);
    }
    if (*runs_command) {
      return coordinator::run_runs_command(history);
    }
    if (*report_command) {
      return coordinator::run_report_command(history);
    }
    return coordinator::run_plan_command(plan);
  } catch (...) {
    return to_int(report_uncaught(std::cerr, "fleet", "running `" + command_line + "`"));
  }
}
