// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/protocol/job.hpp"

#include <map>
#include <string>
#include <vector>

namespace fleet::builder {

// The nix options of the job's builds when it has remote builders: `builders` gets one machine
// line per remote builder (ssh-ng, its systems, maxJobs and speed, and its host key pinned), after
// whatever nixOptions already had there, and `builders-use-substitutes` is on unless nixOptions
// says otherwise, so a remote builder fetches from its own caches what it can. A builder nix
// cannot reach (nix 2.8's ssh-ng store has no port) is left out, with the reason in `left_out`.
struct BuildOptions {
  std::map<std::string, std::string> nix_options;
  std::vector<std::string> left_out;
};
BuildOptions build_options(const std::map<std::string, std::string>& nix_options,
                           const std::vector<protocol::RemoteBuilder>& remote_builders);

}  // namespace fleet::builder
