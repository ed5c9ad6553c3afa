// SPDX-License-Identifier: MIT
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace fleet::builder {

// Everything the command line that starts a supervisor depends on.
struct SupervisorLaunch {
  std::filesystem::path agent;                      // agent_self_path()
  std::filesystem::path state_dir;                  // absolute
  std::string id;                                   // the activation id
  std::optional<std::filesystem::path> systemd_run;  // absolute; none: the host has no systemd
};

// The argv, before as_root(), that starts the supervisor. With systemd, a transient unit whose
// ExecStopPost runs `recover --id ID`, so a supervisor that dies (or is killed with its unit)
// still leaves the host as it was or as confirmed:
//   SYSTEMD_RUN --unit=fleet-activation-ID --collect --service-type=exec --quiet
//     --property=ExecStopPost=AGENT --state-dir DIR recover --id ID -- AGENT --state-dir DIR supervise --id ID
// Without systemd, `AGENT --state-dir DIR supervise --id ID`, which the caller detaches itself.
std::vector<std::string> supervisor_argv(const SupervisorLaunch& launch);

// Starts the root supervisor of activation `id` detached from this process's session: through
// `sudo -n` when this process is not root, in a transient systemd unit when systemd runs the
// host (as nixos-rebuild does), otherwise by a double fork into a session of its own. Throws
// fleet::Error when it cannot be started.
void spawn_supervisor(const std::filesystem::path& state_dir, const std::string& id);

}  // namespace fleet::builder
