// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/config/inventory_merge.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace fleet::coordinator {

// The Colmena hive `fleet-builder inventory --kind colmena` printed ({<node>: {"deployment": its
// deploymentConfig with the keys' names only, "system": its platform or null}}), read as Colmena
// reads it and turned into fleet.json nodes: targetHost → host, targetPort → port, targetUser →
// user, tags, buildOnTarget → build "self", the platform → system. A node with keys, or with no
// targetHost (Colmena deploys it only locally), is refused with the reason and the fleet way to do
// it; every other option that is not at its Colmena default is noted once, with its nodes. Throws
// ConfigError naming `file` and the option's attribute path for a value of the wrong type or out of
// range.
DeclaredInventory from_colmena_hive(const nlohmann::json& hive, const std::string& file);

}  // namespace fleet::coordinator
