// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/protocol/job.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace fleet::builder {

// How this build node reaches one delegated target with OpenSSH (which nix runs too):
// batch mode, strict host key checking against the pinned key or the user's known_hosts,
// connect timeout and keepalives so a dead target never hangs the agent.
struct TargetSsh {
  std::string destination;             // user@host
  std::vector<std::string> options;    // -p PORT -o K=V …, for ssh and NIX_SSHOPTS alike
  // OpenSSH connection sharing: the probe's connection stays open (ControlPersist) and the
  // copy and the activation run through it, so a slow board does one handshake, not three.
  // Empty when the control socket's path would be too long.
  std::vector<std::string> sharing;

  // argv of `ssh … destination -- remote_command`, through the shared connection.
  std::vector<std::string> command(const std::string& remote_command) const;
  // The same over a connection of its own: what proves the target is reachable *now*, after an
  // activation that may have cut the shared one, and what a one-off transfer uses.
  std::vector<std::string> fresh_command(const std::string& remote_command) const;
  // The options as NIX_SSHOPTS (nix splits it on spaces, so no option may contain one).
  std::string nix_sshopts() const;
  // ssh://user@host for `nix copy`.
  std::string store_url() const { return "ssh://" + destination; }
  // Closes the shared connection, if one is open (it would close by itself once idle).
  void stop_sharing() const;
};

// Prepares the options for `target`; a pinned host key is written to a known_hosts file of
// its own under `work_dir`, where the shared connection's socket lives too. Throws fleet::Error
// when the file cannot be written.
TargetSsh make_target_ssh(const protocol::JobTarget& target, const std::filesystem::path& work_dir);

}  // namespace fleet::builder
