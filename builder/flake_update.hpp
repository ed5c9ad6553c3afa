// SPDX-License-Identifier: MIT
#pragma once

#include "builder/build_command.hpp"
#include "builder/nix_cli.hpp"

#include <ostream>
#include <string>

namespace fleet::builder {

// `fleet-builder update-inputs --hash H --flake DIR`: received sources are content-addressed
// and never change, so the source H is copied to a scratch directory, `nix flake update` runs
// in its DIR there, and the new flake.lock is printed as one JSON line {"flakeLock": "<text>",
// "log": "<nix's messages>"}; the copy is then removed. The coordinator packs the new lock into
// the source it sends to every build location, so all of them build the same inputs. Throws
// ProtocolError for a malformed hash or flake path, NodeError when the source is not here or
// nix fails (its messages quoted).
void run_update_inputs(const std::string& hash, const std::string& flake, const NixCli& nix, int timeout_seconds,
                       const AgentPaths& paths, std::ostream& out);

}  // namespace fleet::builder
