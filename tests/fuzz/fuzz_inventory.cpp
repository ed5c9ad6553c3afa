// SPDX-License-Identifier: MIT
// What a builder says the flake's inventory is: read as fleet.nodes and as a Colmena hive, then
// merged with a fleet.json that declares a node of its own. Any input must end in nodes or a
// fleet::ConfigError.
#include "coordinator/config/colmena_hive.hpp"
#include "coordinator/config/fleet_config.hpp"
#include "coordinator/config/inventory_merge.hpp"
#include "uploader/base/error.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>

using namespace fleet::coordinator;
using nlohmann::json;

namespace {

FleetConfig base_config() {
  json root = {{"version", 1},
               {"inventory", "fleet"},
               {"builders", {{"b1", {{"systems", {"x86_64-linux", "aarch64-linux"}}}}}},
               {"nodes", {{"t1", {{"user", "admin"}}}}}};
  return parse_fleet_config(root, std::filesystem::temp_directory_path() / "fleet.json");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const FleetConfig base = base_config();
  const json value = json::parse(data, data + size, nullptr, false);
  if (value.is_discarded()) {
    return 0;
  }
  try {
    FleetConfig config = base;
    merge_inventory(config, {"/src/flake.nix", "fleet.nodes", value, {}, {}});
  } catch (const fleet::ConfigError&) {
  }
  try {
    FleetConfig config = base;
    merge_inventory(config, from_colmena_hive(value, "/src/flake.nix"));
  } catch (const fleet::ConfigError&) {
  }
  return 0;
}
