// SPDX-License-Identifier: MIT
#include "uploader/protocol/inventory.hpp"

namespace fleet::protocol {

std::string to_string(InventoryKind kind) {
  return kind == InventoryKind::colmena ? "colmena" : "fleet";
}

std::optional<InventoryKind> parse_inventory_kind(std::string_view text) {
  if (text == "fleet") {
    return InventoryKind::fleet;
  }
  if (text == "colmena") {
    return InventoryKind::colmena;
  }
  return std::nullopt;
}

std::string inventory_attribute(InventoryKind kind) {
  return kind == InventoryKind::colmena ? "colmenaHive" : "fleet.nodes";
}

std::string inventory_nodes_path(InventoryKind kind) {
  return kind == InventoryKind::colmena ? "colmenaHive.deploymentConfig" : "fleet.nodes";
}

}  // namespace fleet::protocol
