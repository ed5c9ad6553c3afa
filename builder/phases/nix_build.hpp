// SPDX-License-Identifier: MIT
#pragma once

#include "builder/event_writer.hpp"
#include "builder/nix_cli.hpp"
#include "builder/phases/target_state.hpp"

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace fleet::builder {

// Evaluates every live target's toplevel in one nix process (sharing the evaluation of their
// common inputs) and fills drv_path/out_path. The toplevel of node N is
// nixosConfigurations.N.config.system.build.toplevel, or colmenaHive.toplevel.N for a Colmena
// inventory. When that shared evaluation fails, each target is evaluated alone so that only the
// broken ones fail, each with nix's own error. Each nix evaluation is killed after `timeout`.
void evaluate_targets(std::vector<TargetState>& targets, const std::string& flake_ref,
                      std::optional<protocol::InventoryKind> inventory, const NixCli& nix, EventWriter& events,
                      std::chrono::seconds timeout);

// Builds every live target's derivation in one `nix-store --realise --keep-going`, then checks
// each output on its own: a multi-target build reports nothing useful when one of them fails.
// Each built output is registered as a GC root under `roots_dir`. The build is killed after
// `timeout`, failing the targets not built by then.
void build_targets(std::vector<TargetState>& targets, const NixCli& nix, const std::filesystem::path& roots_dir,
                   EventWriter& events, std::chrono::seconds timeout = std::chrono::seconds{protocol::k_default_build_timeout});

}  // namespace fleet::builder
