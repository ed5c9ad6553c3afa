// SPDX-License-Identifier: MIT
#pragma once

#include "builder/event_writer.hpp"
#include "builder/nix_cli.hpp"
#include "builder/phases/target_state.hpp"

#include <string>
#include <vector>

namespace fleet::builder {

// True when this host has `nixos-rebuild` on PATH: a real NixOS host, where a self-building
// target is best served the NixOS way (bootloader, specialisations, switch inhibitors).
bool has_nixos_rebuild();

// Runs `nixos-rebuild ACTION --flake <flake_ref>#NODE` for every live self-building target
// whose action activates (not `build`), exactly as krops does, and marks them handled so the
// agent's own steps skip them. Returns the targets it took.
std::vector<TargetState*> rebuild_self_targets(std::vector<TargetState>& targets, const std::string& flake_ref,
                                               const NixCli& nix, EventWriter& events);

}  // namespace fleet::builder
