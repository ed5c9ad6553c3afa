// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/commands/commands.hpp"
#include "coordinator/config/fleet_config.hpp"
#include "coordinator/plan/deploy_plan.hpp"

#include <string>
#include <vector>

namespace fleet::coordinator {

// fleet.json loaded, the selection resolved and planned: the first step of every command
// that acts on nodes. Pure: nothing is contacted.
struct LoadedSelection {
  FleetConfig config;
  std::vector<std::string> nodes;
  DeployPlan plan;
};

// Throws ConfigError (exit 2) for a missing or invalid fleet.json or an empty selection.
LoadedSelection load_selection(const SelectionOptions& options);

}  // namespace fleet::coordinator
