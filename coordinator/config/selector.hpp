// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/config/fleet_config.hpp"

#include <string>
#include <vector>

namespace fleet::coordinator {

// Resolves a Colmena-style `--on` expression: comma-separated node names, globs ("web-*", fnmatch)
// and tags ("@audio"). An empty expression selects every node. Returns sorted, unique node names.
// Throws ConfigError when a term selects nothing, e.g.
// "--on: '@dbs' matches no node; tags in fleet.json: audio, low".
std::vector<std::string> select_nodes(const FleetConfig& config, const std::string& expression);

}  // namespace fleet::coordinator
