// SPDX-License-Identifier: MIT
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fleet::protocol {

// Where a flake keeps its inventory (fleet.json "inventory"), and so where node N's system is:
// fleet's own output `fleet.nodes` beside nixosConfigurations.N.config.system.build.toplevel, or
// a Colmena hive `colmenaHive` (colmena.lib.makeHive) with its deploymentConfig and toplevel.N.
enum class InventoryKind { fleet, colmena };

// "fleet" or "colmena", as fleet.json and the agent's command line spell it.
std::string to_string(InventoryKind kind);

// The kind spelled `text`, or nullopt.
std::optional<InventoryKind> parse_inventory_kind(std::string_view text);

// The flake attribute the agent evaluates: fleet.nodes or colmenaHive.
std::string inventory_attribute(InventoryKind kind);

// Where the nodes are in it, as messages name them: fleet.nodes or colmenaHive.deploymentConfig.
std::string inventory_nodes_path(InventoryKind kind);

}  // namespace fleet::protocol
