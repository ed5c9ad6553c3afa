// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/config/fleet_config.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace fleet::coordinator {

// The nodes an inventory in the flake declares, already shaped like fleet.json's "nodes".
struct DeclaredInventory {
  std::string file;          // how errors name where it came from: "<flake dir>/flake.nix"
  std::string path;          // the attribute holding the nodes: "fleet.nodes", "colmenaHive.deploymentConfig"
  nlohmann::json nodes = nlohmann::json::object();  // name → fleet.json node object
  std::map<std::string, std::string> refused;       // nodes fleet does not deploy, and why
  std::vector<std::string> notes;                   // what was not carried over, said once per run
};

// Adds the inventory's nodes to config.nodes, each validated as a fleet.json node is, with its
// attribute path in place of the JSON path. A node fleet.json declares too takes fleet.json's keys,
// which are validated at their JSON path; nodes only in fleet.json are added as they are. Throws
// ConfigError for the first problem, for a `system` given differently in both places (naming
// both), for fleet.json's keys on a node the inventory refuses, and when there is no node at all.
void merge_inventory(FleetConfig& config, const DeclaredInventory& inventory);

}  // namespace fleet::coordinator
