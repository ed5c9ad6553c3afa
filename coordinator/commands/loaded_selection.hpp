// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/commands/commands.hpp"
#include "coordinator/config/fleet_config.hpp"
#include "coordinator/plan/deploy_plan.hpp"
#include "coordinator/run/flake_inventory.hpp"

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
  std::optional<TransferRecord> inventory_upload;  // the source sent to evaluate the inventory
};

// Throws ConfigError (exit 2) for a missing or invalid fleet.json or inventory, or an empty
// selection; NodeError when no builder could evaluate the inventory.
LoadedSelection load_selection(const SelectionOptions& options);

// The inventory of `kind` of the config's flake in the source as it is now: cached, or evaluated
// on a builder (fetch_inventory); says on stderr where it came from.
FetchedInventory fetch_config_inventory(const FleetConfig& config, protocol::InventoryKind kind);

}  // namespace fleet::coordinator
