// SPDX-License-Identifier: MIT
#pragma once

#include "builder/event_writer.hpp"
#include "builder/nix_cli.hpp"
#include "builder/phases/target_state.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace fleet::builder {

// Adds the flake directory to the nix store once for the job, rooted by the indirect root `root`
// (inside the job's work directory, so it goes with the job), and returns the flake reference to
// evaluate: each nix evaluation of `path:DIR` would hash and copy all of DIR again, while one of
// a store path named "source" reads it where it is. Throws fleet::Error with nix's message.
std::string add_flake_to_store(const std::filesystem::path& flake_dir, const NixCli& nix, const std::filesystem::path& root,
                               std::chrono::seconds timeout);

// Called from the evaluating thread for each target as soon as its toplevel is known.
using OnEvaluated = std::function<void(TargetState&)>;

// Evaluates every live target's toplevel in one nix process (sharing the evaluation of their
// common inputs) and fills drv_path/out_path, handing each target to `on_evaluated` the moment
// nix has evaluated it, while nix goes on with the others. The toplevel of node N is
// nixosConfigurations.N.config.system.build.toplevel, or colmenaHive.toplevel.N for a Colmena
// inventory. When that shared evaluation fails, each target it had not evaluated yet is evaluated
// alone so that only the broken ones fail, each with nix's own error. Each nix evaluation is killed
// after `timeout`. An eval event's figures are what the process had cost by then, and how many
// toplevels it had evaluated.
void evaluate_targets(std::vector<TargetState>& targets, const std::string& flake_ref,
                      std::optional<protocol::InventoryKind> inventory, const NixCli& nix, EventWriter& events,
                      std::chrono::seconds timeout, const OnEvaluated& on_evaluated);

// Builds one evaluated target's derivation with `nix-store --realise`, all of whose log is the
// target's, and registers its output as a GC root under `roots_dir`. The build is killed after
// `timeout`; several may run at once.
void build_target(TargetState& target, const NixCli& nix, const std::filesystem::path& roots_dir, EventWriter& events,
                  std::chrono::seconds timeout);

}  // namespace fleet::builder
