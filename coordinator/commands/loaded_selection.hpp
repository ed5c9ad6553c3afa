// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/cache/pack_cache.hpp"
#include "coordinator/commands/commands.hpp"
#include "coordinator/config/fleet_config.hpp"
#include "coordinator/plan/deploy_plan.hpp"
#include "coordinator/run/flake_inventory.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace fleet::coordinator {

// fleet.json loaded (with the flake's inventory when it names one), the selection resolved and
// planned: the first step of every command that acts on nodes. Nothing is contacted, except a
// builder to evaluate an inventory the laptop has not cached for this source.
struct LoadedSelection {
  FleetConfig config;
  std::vector<std::string> nodes;
  DeployPlan plan;
  // With an inventory: the source as packed to evaluate it, which the run then builds (so both
  // see the same tree), and its upload when the builder did not hold it yet.
  std::optional<PackOutcome> pack;
  std::optional<TransferRecord> inventory_upload;
};

// Throws ConfigError (exit 2) for a missing or invalid fleet.json or inventory, or an empty
// selection; NodeError when no builder could evaluate the inventory.
LoadedSelection load_selection(const SelectionOptions& options);

// The config's source as every command packs it (through the pack cache); `say` hears why the
// cache could not be used.
PackOutcome pack_config_source(const FleetConfig& config, const std::function<void(const std::string&)>& say);

// The inventory of `kind` of the config's flake in the source `packed`: cached, or evaluated on a
// builder (fetch_inventory); says on stderr where it came from.
FetchedInventory fetch_config_inventory(const FleetConfig& config, protocol::InventoryKind kind,
                                        const tarball::PackedTarball& packed);

}  // namespace fleet::coordinator
