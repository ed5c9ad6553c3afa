// SPDX-License-Identifier: MIT
#include "coordinator/commands/commands.hpp"
#include "coordinator/commands/loaded_selection.hpp"
#include "uploader/base/process.hpp"

#include <nlohmann/json.hpp>

#include <iostream>

namespace fleet::coordinator {
namespace {

using nlohmann::json;

// A JSON value of a fleet node (strings, numbers, booleans, lists and attribute sets of them) as
// a Nix expression.
std::string to_nix(const json& value) {
  if (value.is_string()) {
    return nix_string_literal(value.get<std::string>());
  }
  if (value.is_array()) {
    std::string out = "[";
    for (const auto& item : value) {
      out += " " + to_nix(item);
    }
    return out + " ]";
  }
  if (value.is_object()) {
    std::string out = "{";
    for (const auto& [key, item] : value.items()) {
      out += " " + key + " = " + to_nix(item) + ";";
    }
    return out + " }";
  }
  return value.dump();  // numbers, booleans, null
}

}  // namespace

int run_import_command(const ImportOptions& options) {
  auto file = options.config_file.empty() ? find_fleet_config(std::filesystem::current_path())
                                          : std::filesystem::path(options.config_file);
  auto config = load_fleet_config(file);
  const auto kind = protocol::InventoryKind::colmena;
  auto warn = [](const std::string& text) { std::cerr << "fleet: " << text << '\n'; };
  auto fetched = fetch_config_inventory(config, kind, pack_config_source(config, warn).packed);
  auto hive = declared_inventory(config, kind, fetched.value);
  for (const auto& [name, why] : hive.refused) {
    std::cerr << "fleet: " << name << " is left out: " << why << '\n';
  }
  for (const auto& note : hive.notes) {
    std::cerr << "fleet: " << note << '\n';
  }
  if (!options.nix) {
    std::cout << json{{"nodes", hive.nodes}}.dump(2) << '\n';
    return 0;
  }
  std::cout << "# In each host's configuration, with fleet.nixosModules.deployment imported:\n";
  for (const auto& [name, node] : hive.nodes.items()) {
    std::cout << "# " << name << "\n{\n";
    for (const auto& [key, value] : node.items()) {
      std::cout << "  deployment.fleet." << key << " = " << to_nix(value) << ";\n";
    }
    std::cout << "}\n";
  }
  return 0;
}

}  // namespace fleet::coordinator
