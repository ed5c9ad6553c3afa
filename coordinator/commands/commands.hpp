// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/protocol/action.hpp"

#include <optional>
#include <string>

namespace fleet::coordinator {

// Options shared by the commands that read fleet.json and select nodes.
struct SelectionOptions {
  std::string config_file;  // empty: ./fleet.json searched upward
  std::string on;           // --on selection; empty: every node
  bool json = false;
};

struct SyncOptions {
  SelectionOptions selection;
  std::optional<protocol::Action> action;  // none: each node's own action (default switch)
  std::size_t jobs = 8;
  bool unattended = false;
  std::string report_file;   // --report FILE, besides the run history
  bool update_inputs = false;   // --update-inputs: `nix flake update` on the first build location
  bool skip_unchanged = false;  // --skip-unchanged: nothing to do when source and inputs are as last time
  std::string notify;           // --notify CMD: /bin/sh -c CMD gets the summary on stdin
  std::string command_line;     // how fleet was invoked, recorded in the run lock
};

// Options of `fleet runs` and `fleet report`.
struct HistoryOptions {
  std::string run;  // `fleet report RUN`: an id or unique prefix; empty: the newest
  bool json = false;
};

// Options of `fleet secrets ACTION`.
struct SecretsOptions {
  std::string action;        // encrypt | edit | rekey | list
  std::string config_file;   // empty: ./fleet.json searched upward
  std::string name;          // encrypt, edit: the secret, stored as <secretsDir>/NAME.age
  std::string for_nodes;     // encrypt: --for selection
  std::string identity;      // --identity FILE; else $FLEET_AGE_IDENTITY, ~/.config/fleet/age.key, ~/.ssh/id_ed25519
  bool force = false;        // rekey: also re-encrypt files whose X25519 stanzas cannot be checked
  bool json = false;         // list
};

// Options of `fleet pack`.
struct PackOptions {
  std::string config_file;  // empty: ./fleet.json searched upward
  bool no_cache = false;    // pack from scratch; neither read nor write the cache
  bool json = false;
};

// Options of `fleet import colmena`.
struct ImportOptions {
  std::string config_file;  // empty: ./fleet.json searched upward
  bool nix = false;         // print deployment.fleet settings instead of fleet.json nodes
};

// `fleet pack`: packs the source as sync-and-build would (through the pack cache) and prints
// its content hash, entry count and sizes, and whether the cache made packing unnecessary.
// Uploads nothing. Returns 0; throws ConfigError for bad configuration.
int run_pack_command(const PackOptions& options);

// `fleet secrets`: encrypt stdin to the selected nodes and admins, edit with $EDITOR, rekey to
// current recipients, list files with their nodes and state. Returns the exit code (list: 1 when
// a file is out of date or missing); throws ConfigError for bad input.
int run_secrets_command(const SecretsOptions& options);

// `fleet plan`: prints the delegation plan with the reason for each choice; touches nothing.
// Returns the exit code; throws ConfigError for bad configuration.
int run_plan_command(const SelectionOptions& options);

// `fleet import colmena`: evaluates the flake's colmenaHive on a builder (or takes it from the
// cache) and prints its nodes as fleet.json "nodes", or with `nix` as deployment.fleet settings,
// saying on stderr which nodes and options are not carried over. Returns 0; throws ConfigError
// for bad configuration or a hive that does not evaluate.
int run_import_command(const ImportOptions& options);

// `fleet sync-and-build`: plan, pack, upload, build, deliver, activate, report. Returns 0 when
// every selected node succeeded (or the run was skipped as unchanged), 1 otherwise; throws
// ConfigError before touching anything and LockHeld (exit 3) when another run holds the lock.
int run_sync_and_build(const SyncOptions& options);

// `fleet runs`: the run history, oldest first. Returns 0.
int run_runs_command(const HistoryOptions& options);

// `fleet report [RUN]`: one run per node. Throws ConfigError for an unknown run.
int run_report_command(const HistoryOptions& options);

}  // namespace fleet::coordinator
