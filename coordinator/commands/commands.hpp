// SPDX-License-Identifier: MIT
#pragma once

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
  std::string action;        // empty: each node's own action (default switch)
  std::size_t jobs = 8;
  bool unattended = false;
  std::string report_file;   // --report FILE, besides the run history
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

// `fleet secrets`: encrypt stdin to the selected nodes and admins, edit with $EDITOR, rekey to
// current recipients, list files with their nodes and state. Returns the exit code (list: 1 when
// a file is out of date or missing); throws ConfigError for bad input.
int run_secrets_command(const SecretsOptions& options);

// `fleet plan`: prints the delegation plan with the reason for each choice; touches nothing.
// Returns the exit code; throws ConfigError for bad configuration.
int run_plan_command(const SelectionOptions& options);

// `fleet sync-and-build`: plan, pack, upload, build, deliver, activate, report. Returns 0 when
// every selected node succeeded, 1 otherwise; throws ConfigError before touching anything.
int run_sync_and_build(const SyncOptions& options);

}  // namespace fleet::coordinator
