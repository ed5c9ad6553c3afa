// SPDX-License-Identifier: MIT
#include "coordinator/config/inventory_merge.hpp"

#include "coordinator/config/config_reader.hpp"
#include "coordinator/config/node_parser.hpp"

namespace fleet::coordinator {

using nlohmann::json;

void merge_inventory(FleetConfig& config, const DeclaredInventory& inventory) {
  const std::string file = config.file.string();
  if (!inventory.nodes.is_object()) {
    fail_config(inventory.file, inventory.path, "expected an attribute set of nodes, got " + describe_json(inventory.nodes),
                "make it an attribute set with one attribute per node");
  }
  for (const auto& [name, declared] : inventory.nodes.items()) {
    // Validated alone first, so a problem of the flake's is named where it is.
    parse_node(inventory.file, inventory.path, name, declared, config);
    auto override = config.declared_nodes.find(name);
    if (override == config.declared_nodes.end()) {
      add_node(config, inventory.file, inventory.path, name, declared);
      continue;
    }
    if (declared.contains("system") && override->contains("system") && declared["system"] != (*override)["system"]) {
      fail_config(file, json_path(json_path("nodes", name), "system"),
                  (*override)["system"].dump() + " contradicts " + json_path(json_path(inventory.path, name), "system") +
                      " = " + declared["system"].dump() + " in " + inventory.file,
                  "remove \"system\" from one of them, or make them agree");
    }
    json merged = declared;
    merged.update(*override);
    add_node(config, file, "nodes", name, merged);
  }
  for (const auto& [name, why] : inventory.refused) {
    if (config.declared_nodes.contains(name)) {
      fail_config(file, json_path("nodes", name), "this node of " + inventory.path + " is not deployed by fleet: " + why,
                  "remove it from fleet.json, or change it in the flake");
    }
  }
  for (const auto& [name, declared] : config.declared_nodes.items()) {
    if (!inventory.nodes.contains(name)) {
      add_node(config, file, "nodes", name, declared);
    }
  }
  config.refused_nodes = inventory.refused;
  if (config.nodes.empty()) {
    fail_config(inventory.file, inventory.path, "no nodes to deploy, neither here nor in " + file,
                inventory.refused.empty() ? "declare nodes in the flake or under \"nodes\" in fleet.json"
                                          : "every node was refused: see the reasons above");
  }
}

}  // namespace fleet::coordinator
