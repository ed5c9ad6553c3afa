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

  // argv of `ssh … destination -- remote_command`.
  std::vector<std::string> command(const std::string& remote_command) const;
  // The options as NIX_SSHOPTS (nix splits it on spaces, so no option may contain one).
  std::string nix_sshopts() const;
  // ssh://user@host for `nix copy`.
  std::string store_url() const { return "ssh://" + destination; }
};

// Prepares the options for `target`; a pinned host key is written to a known_hosts file of
// its own under `work_dir`. Throws fleet::Error when the file cannot be written.
TargetSsh make_target_ssh(const protocol::JobTarget& target, const std::filesystem::path& work_dir);

}  // namespace fleet::builder
