// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/config/run_settings.hpp"
#include "uploader/protocol/action.hpp"
#include "uploader/protocol/inventory.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fleet::coordinator {

// One age-encrypted secret installed on a target: `file` (relative to the fleet.json directory) is
// decrypted on the target into `dest` with the given owner, group and octal mode.
struct SecretSpec {
  std::string name, file, dest, owner = "root", group = "root", mode = "0400", when = "pre-activation";
  bool required = true;
};

// One health check run on a target after activation. `params` holds every key but "type", already
// validated for the type: command {command, timeout?}, tcp {port, host?, timeout?},
// http {url, status?, timeout?}, systemd {units}, system-running {timeout?}; any type may add
// retries and interval.
struct HealthCheckSpec {
  std::string type;
  nlohmann::json params;
};

// A build node: what it can build (`systems`) and how much (`max_jobs` × `speed` weighs its load).
// user and port empty/0 mean "as ~/.ssh/config says". `eval_memory_mb` is the per-target
// evaluation estimate in force for this builder (its own or the top-level one); `memory_mb` the
// memory it is said to have, 0 when unknown (only `fleet plan`'s batch estimate uses it).
struct BuilderSpec {
  std::string name, host, user;
  int port = 0;
  std::vector<std::string> systems;
  int max_jobs = 1;
  double speed = 1;
  std::string site;
  int eval_memory_mb = protocol::k_default_eval_memory_mb;
  int memory_mb = 0;
};

// How a node gets its system built: on itself, by any capable builder, by one pinned builder, or
// chosen by the planner.
enum class BuildMode { self, delegate, pinned, automatic };

// A deployment target. user and port empty/0 mean "as ~/.ssh/config says"; no action means
// "as the command line says" (switch by default).
struct NodeSpec {
  std::string name, host, user;
  int port = 0;
  std::string system = "x86_64-linux";
  std::vector<std::string> tags;
  BuildMode build = BuildMode::automatic;
  std::string pinned_builder;
  bool low_power = false;
  bool substitute_on_target = false;  // the target fetches what its own substituters have
  std::string site, host_key;
  std::optional<protocol::Action> action;
  std::vector<SecretSpec> secrets;
  std::vector<HealthCheckSpec> health_checks;
  std::string pre_activate_hook, post_activate_hook;
  int hook_timeout = protocol::k_default_hook_timeout;  // seconds, hooks.timeout
  bool rollback_on_hook_failure = false;  // a failing postActivate hook also rolls back
  int confirm_timeout = protocol::k_default_confirm_timeout;  // seconds the target waits for the deployer's confirmation
};

// fleet.json `defaults`, applied to every node that does not set the key itself.
struct NodeDefaults {
  std::optional<std::string> user, build;
  std::optional<protocol::Action> action;
  std::optional<int> port;
  std::optional<bool> substitute_on_target;
};

// A validated fleet.json (version 1).
struct FleetConfig {
  std::filesystem::path file;          // absolute path of fleet.json
  std::filesystem::path source_dir;    // absolute; `source` resolved relative to the file
  std::string flake = ".";             // relative to source_dir, never outside it
  std::vector<std::string> exclude;    // default [".git", "result"]
  std::map<std::string, std::string> nix_options;
  std::vector<std::string> admins;
  std::filesystem::path secrets_dir;   // default <dir of fleet.json>/secrets
  int eval_memory_mb = protocol::k_default_eval_memory_mb;  // `evalMemoryMB`: per-target evaluation estimate
  bool remote_builders = false;        // `remoteBuilders`: each builder's builds may go to the run's other builders
  std::map<std::string, BuilderSpec> builders;
  NodeDefaults defaults;
  // "inventory": the flake declares nodes too. Then `nodes` holds none until merge_inventory()
  // has added the flake's, merged with `declared_nodes` (fleet.json's "nodes" as written, each
  // already checked on its own).
  std::optional<protocol::InventoryKind> inventory;
  nlohmann::json declared_nodes = nlohmann::json::object();
  std::map<std::string, NodeSpec> nodes;
  // Nodes of the inventory that fleet does not deploy, with the reason (e.g. Colmena keys).
  std::map<std::string, std::string> refused_nodes;
  RunSettings run;                     // "timeouts", "retries", "history"
};

// "self", "delegate", "auto" or the pinned builder's name, as written in fleet.json.
std::string to_string(BuildMode mode, const std::string& pinned_builder = {});

// Reads, parses and validates fleet.json version 1. Throws fleet::ConfigError shaped
// "<file>: <json.path>: <problem>; <fix>" for an unreadable file, a JSON syntax error (with line
// and column), an unknown key (suggesting the closest known one), a wrong type (expected vs got)
// and every rule of the README's fleet.json section (names, hosts, ports, systems, build modes, buildability, actions,
// host keys, secrets, health checks, an existing source directory). `file` is quoted as given.
FleetConfig load_fleet_config(const std::filesystem::path& file);

// Validates already parsed JSON as if read from `file`; `source` and `flake` resolve against its
// directory, which need not hold the file. Throws ConfigError as load_fleet_config does.
FleetConfig parse_fleet_config(const nlohmann::json& json, const std::filesystem::path& file);

// The default of `-c`: the first fleet.json in `start` or one of its parents. Throws ConfigError
// listing where it looked when there is none.
std::filesystem::path find_fleet_config(const std::filesystem::path& start);

}  // namespace fleet::coordinator
