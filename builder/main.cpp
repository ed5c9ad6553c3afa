// SPDX-License-Identifier: MIT
// fleet-builder: the agent on build nodes and targets. Every subcommand speaks JSON lines on
// stdout; human-readable errors go to stderr.
#include "builder/activation/activate_here.hpp"
#include "builder/activation/activation_store.hpp"
#include "builder/activation/follow.hpp"
#include "builder/activation/recover.hpp"
#include "builder/activation/supervisor.hpp"
#include "builder/build_command.hpp"
#include "builder/closure_diff.hpp"
#include "builder/flake_update.hpp"
#include "builder/inventory_eval.hpp"
#include "builder/phases/batches.hpp"
#include "builder/receive.hpp"
#include "builder/relay.hpp"
#include "builder/secrets/generation_secrets.hpp"
#include "builder/secrets/target_secrets.hpp"
#include "builder/sudoers_fragment.hpp"
#include "uploader/base/error.hpp"
#include "uploader/base/exit_code.hpp"
#include "uploader/base/process.hpp"
#include "uploader/protocol/action.hpp"
#include "uploader/protocol/agent_version.hpp"
#include "uploader/protocol/job.hpp"
#include "uploader/protocol/json_document.hpp"

#include <CLI/CLI.hpp>

#include <csignal>
#include <unistd.h>
#include <iostream>

int main(int argc, char** argv) {
  using namespace fleet;
  CLI::App app{"fleet-builder: receives sources, builds, delivers and activates NixOS systems for fleet"};
  app.require_subcommand(1);
  std::string state_dir;
  app.add_option("--state-dir", state_dir, "Where sources, GC roots and run files live (default /var/lib/fleet as root)");

  auto* receive = app.add_subcommand("receive", "Receive a source tarball (.tar.zst) on stdin unless already held");
  std::string hash;
  receive->add_option("--hash", hash, "SHA-256 of the uncompressed tar")->required();

  auto* relay = app.add_subcommand("relay", "Send a held source on to other nodes, as JSON on stdin says; outcomes on stdout");
  relay->add_option("--hash", hash, "Content hash of the source to send")->required();

  app.add_subcommand("build", "Run the build job given as JSON on stdin; events on stdout");

  auto* activate = app.add_subcommand("activate", "Activate a system closure already in this host's store");
  builder::ActivationRequest request;
  std::vector<std::string> nix_options;
  activate->add_option("--node", request.node, "Node name used in events")->required();
  activate->add_option("--path", request.store_path, "Store path of the system closure")->required();
  std::string activate_action;
  activate->add_option("--action", activate_action, "switch | boot | test | dry-activate | build")
      ->required()
      ->check(CLI::IsMember(protocol::action_names()));
  activate->add_option("--nix-option", nix_options, "K=V passed to nix as --option K V");
  bool from_stdin = false;
  std::string host_key = builder::secrets::k_default_host_key;
  activate->add_flag("--stdin", from_stdin,
                     "Read hooks, health checks, confirmTimeout and the node's secrets (age ciphertexts) as JSON on stdin");
  activate->add_option("--host-key", host_key, "Identity that decrypts secrets (default /etc/ssh/ssh_host_ed25519_key)");
  activate->add_option("--run-id", request.run_id, "The deployment run that asks, named in the target's lock")
      ->check([](const std::string& value) {
        return protocol::is_safe_token(value) ? std::string() : std::string("not a run id: ") + value;
      });
  activate->add_option("--deployer", request.deployer, "user@host of whoever deploys, named in the target's lock")
      ->check([](const std::string& value) {
        return protocol::is_printable_name(value) ? std::string() : std::string("not a user@host: ") + value;
      });

  auto* secrets_command = app.add_subcommand("secrets", "Manage the secrets kept on this host");
  secrets_command->require_subcommand(1);
  auto* restore = secrets_command->add_subcommand(
      "restore", "As root: install the secrets kept for the generation the system profile points at");
  restore->add_option("--host-key", host_key, "Identity that decrypts secrets (default /etc/ssh/ssh_host_ed25519_key)");

  std::string activation_id;
  std::size_t from_line = 0;
  auto* supervise = app.add_subcommand("supervise", "(internal, root) Carry out a recorded activation, detached");
  supervise->add_option("--id", activation_id, "Activation id")->required();
  auto* recover = app.add_subcommand("recover", "As root: finish an activation whose supervisor died, or all of them at boot");
  bool at_boot = false;
  auto* recover_id = recover->add_option("--id", activation_id, "The activation to finish (roll back unless confirmed)");
  auto* recover_boot = recover->add_flag("--boot", at_boot,
                                         "At boot: end every unfinished activation, install the booted generation's secrets");
  recover_id->excludes(recover_boot);
  recover->add_option("--host-key", host_key, "Identity that decrypts secrets (default /etc/ssh/ssh_host_ed25519_key)");
  auto* confirm = app.add_subcommand("confirm", "Confirm an activation waiting for its deployer");
  confirm->add_option("--id", activation_id, "Activation id")->required();
  auto* attach = app.add_subcommand("attach", "Follow an activation's events again until its result");
  attach->add_option("--id", activation_id, "Activation id")->required();
  attach->add_option("--from", from_line, "Skip this many events already seen");
  activate->add_option("--timeout", request.timeout_seconds, "Seconds switch-to-configuration may take")
      ->check(CLI::Range(1, 7 * 24 * 3600));

  auto* update = app.add_subcommand("update-inputs", "Print the flake.lock `nix flake update` makes for a received source");
  std::string update_flake = ".";
  int update_timeout = 1800;
  update->add_option("--hash", hash, "Content hash of the received source")->required();
  update->add_option("--flake", update_flake, "Flake directory inside the source");
  update->add_option("--nix-option", nix_options, "K=V passed to nix as --option K V");
  update->add_option("--timeout", update_timeout, "Seconds nix flake update may take")->check(CLI::Range(1, 7 * 24 * 3600));

  auto* inventory = app.add_subcommand("inventory", "Print the inventory a received source's flake declares, as JSON");
  std::string inventory_flake = ".";
  std::string inventory_kind;
  int inventory_timeout = 600;
  inventory->add_option("--hash", hash, "Content hash of the received source")->required();
  inventory->add_option("--flake", inventory_flake, "Flake directory inside the source");
  inventory->add_option("--kind", inventory_kind, "fleet (fleet.nodes) or colmena (colmenaHive)")
      ->required()
      ->check(CLI::IsMember({"fleet", "colmena"}));
  inventory->add_option("--nix-option", nix_options, "K=V passed to nix as --option K V");
  inventory->add_option("--timeout", inventory_timeout, "Seconds the evaluation may take")->check(CLI::Range(1, 7 * 24 * 3600));

  auto* sudoers = app.add_subcommand("sudoers", "Print the sudoers rules a non-root USER needs to deploy to this host");
  std::string sudoers_user;
  std::string sudoers_state_dir;
  sudoers->add_option("USER", sudoers_user, "The deploy user fleet logs in as")->required();
  sudoers->add_option("--state-dir", sudoers_state_dir, "USER's state dir (default: the one USER's agent uses)");

  auto* version = app.add_subcommand("version", "Print the agent and protocol versions as JSON");
  bool version_json = true;  // JSON is the only form; the flag is what the coordinator asks for
  version->add_flag("--json", version_json, "Print JSON (the default)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : to_int(ExitCode::usage);
  }

  builder::EventWriter events(stdout);
  // A closed pipe (an ssh that went away) must be an error on that write, not a silent death.
  std::signal(SIGPIPE, SIG_IGN);
  // A job's nix processes end with the agent that runs them, even when it is killed.
  if (relay->parsed() || app.got_subcommand("build") || update->parsed() || inventory->parsed()) {
    end_children_with_this_process();
  }
  try {
    // These decrypt secrets with the host key: neither may end up in a core file.
    if (supervise->parsed() || recover->parsed() || secrets_command->parsed()) {
      keep_out_of_core_dumps();
    }
    const builder::AgentPaths paths{state_dir.empty() ? builder::default_state_dir() : std::filesystem::path(state_dir)};
    const builder::secrets::SecretOptions secret_options{host_key, paths.state_dir / "secrets"};
    if (app.got_subcommand("receive")) {
      builder::run_receive(hash, paths.state_dir, 0, std::cout);
      return 0;
    }
    if (relay->parsed()) {
      constexpr std::size_t k_max_request = 1 << 20;
      auto destinations =
          transfer::parse_relay_request(protocol::read_json_document(std::cin, k_max_request, "the relay request on stdin"));
      return builder::run_relay(hash, paths.state_dir, destinations, std::cout) == 0 ? 0 : to_int(ExitCode::node_failed);
    }
    if (sudoers->parsed()) {
      builder::run_sudoers(sudoers_user, sudoers_state_dir.empty() ? state_dir : sudoers_state_dir, std::cout);
      return 0;
    }
    if (app.got_subcommand("build")) {
      return builder::run_build(std::cin, paths, events);
    }
    std::map<std::string, std::string> options;
    for (const auto& kv : nix_options) {
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        throw ConfigError("--nix-option expects K=V, got '" + kv + "'");
      }
      options[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    if (app.got_subcommand("update-inputs")) {
      builder::run_update_inputs(hash, update_flake, builder::NixCli(options), update_timeout, paths, std::cout);
      return 0;
    }
    if (inventory->parsed()) {
      builder::run_inventory(hash, inventory_flake, *protocol::parse_inventory_kind(inventory_kind),
                             builder::NixCli(options), inventory_timeout, builder::read_mem_available_mb(), paths,
                             std::cout);
      return 0;
    }
    if (app.got_subcommand("activate")) {
      request.action = *protocol::parse_action(activate_action);  // IsMember let only known names through
      request.secrets.node = request.node;
      request.host_key = host_key == builder::secrets::k_default_host_key ? "" : host_key;
      if (from_stdin) {
        auto document = builder::secrets::read_activation_stdin(std::cin, request.node);
        request.spec = document.spec;
        request.secrets = document.bundle;
      }
      auto result = builder::activate_here(request, builder::NixCli(options), paths.state_dir, events);
      return result == "ok" ? 0 : to_int(ExitCode::node_failed);
    }
    if (restore->parsed()) {
      char host[256] = {};
      std::string node = ::gethostname(host, sizeof host - 1) == 0 && host[0] != '\0' ? host : "localhost";
      return builder::secrets::GenerationSecrets(secret_options)
                     .install_for_boot(builder::profile_store_path(builder::k_system_profile), node, events)
                 ? 0
                 : to_int(ExitCode::node_failed);
    }
    builder::ActivationStore store(paths.state_dir);
    if (app.got_subcommand("supervise")) {
      return builder::run_supervisor(store, activation_id, secret_options);
    }
    if (recover->parsed()) {
      if (at_boot) {
        return builder::run_recover_at_boot(store, secret_options, events) == 0 ? 0 : to_int(ExitCode::node_failed);
      }
      if (activation_id.empty()) {
        throw ConfigError("recover needs --id ID or --boot");
      }
      return builder::run_recover(store, activation_id, secret_options, events) == 0 ? 0 : to_int(ExitCode::node_failed);
    }
    if (app.got_subcommand("confirm")) {
      store.load(activation_id);  // an unknown id is an error, not a silent success
      if (!store.decide(activation_id, "confirmed") && store.decision(activation_id) != "confirmed") {
        std::cerr << "fleet-builder: activation " << activation_id
                  << " was not confirmed in time and rolls back (or has rolled back)\n";
        return to_int(ExitCode::node_failed);
      }
      return 0;
    }
    if (app.got_subcommand("attach")) {
      return builder::follow_activation(store, activation_id, from_line, events) == "ok" ? 0
                                                                                      : to_int(ExitCode::node_failed);
    }
    std::cout << protocol::format_agent_version(protocol::this_agent_version()) << '\n';
    return 0;
  } catch (...) {
    std::string command_line = "fleet-builder";
    for (int i = 1; i < argc; ++i) {
      command_line += std::string(" ") + argv[i];
    }
    return to_int(report_uncaught(std::cerr, "fleet-builder", "running `" + command_line + "`"));
  }
}
