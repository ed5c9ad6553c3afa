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

// `fleet plan`: prints the delegation plan with the reason for each choice; touches nothing.
// Returns the exit code; throws ConfigError for bad configuration.
int run_plan_command(const SelectionOptions& options);

// `fleet sync-and-build`: plan, pack, upload, build, deliver, activate, report. Returns 0 when
// every selected node succeeded, 1 otherwise; throws ConfigError before touching anything.
int run_sync_and_build(const SyncOptions& options);

}  // namespace fleet::coordinator
