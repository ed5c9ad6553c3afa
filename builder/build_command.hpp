// SPDX-License-Identifier: MIT
#pragma once

#include "builder/event_writer.hpp"

#include <filesystem>
#include <istream>
#include <string_view>

#include <sys/types.h>

namespace fleet::builder {

// Where the agent keeps received sources, GC roots and per-run files.
struct AgentPaths {
  std::filesystem::path state_dir;  // /var/lib/fleet as root

  std::filesystem::path roots() const { return state_dir / "roots"; }
  std::filesystem::path run_dir(const std::string& run_id) const { return state_dir / "runs" / run_id; }
};

// The default state directory: default_state_dir_for() this process's user, $HOME (else the
// user's passwd entry) and $XDG_STATE_HOME.
std::filesystem::path default_state_dir();

// The state directory of user `uid` when no --state-dir is given: /var/lib/fleet for root and
// for the user owning /var/lib/fleet (a node's deploy user, whose sudo rules name that
// directory), else `xdg_state_home`/fleet-builder, else `home`/.local/state/fleet-builder. Throws
// ConfigError when neither is an absolute path.
std::filesystem::path default_state_dir_for(uid_t uid, const std::filesystem::path& home,
                                            std::string_view xdg_state_home);

// `fleet-builder build`: reads one job (JSON) from `job_input`, then probes, evaluates, builds,
// delivers and activates its targets, reporting every step as events. One target's failure
// never stops the others. Returns 0 when every target succeeded, 1 otherwise; throws
// ProtocolError for a malformed job (nothing done).
int run_build(std::istream& job_input, const AgentPaths& paths, EventWriter& events);

}  // namespace fleet::builder
