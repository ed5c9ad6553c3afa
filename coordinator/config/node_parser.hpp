// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/config/fleet_config.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>

namespace fleet::coordinator {

// Parses `build` ("self", "delegate", "auto" or a builder's name) into `node`. Throws ConfigError
// at `path` when the value is neither a mode nor a builder of `builders`.
void parse_build_mode(const std::string& file, const std::string& path, const std::string& value,
                      const std::map<std::string, BuilderSpec>& builders, NodeSpec& node);

// Parses and validates the node `name` (`json`, found at `<nodes_path>.<name>` of `file`) with the
// config's defaults and builders, which must already be parsed. Throws ConfigError naming the
// exact key at fault. Does not check whether a builder can build the node.
NodeSpec parse_node(const std::string& file, const std::string& nodes_path, const std::string& name,
                    const nlohmann::json& json, const FleetConfig& config);

// Parses the node as parse_node() does, checks that it can be built and that its secrets lie inside
// the source, and adds it to config.nodes.
void add_node(FleetConfig& config, const std::string& file, const std::string& nodes_path, const std::string& name,
              const nlohmann::json& json_node);

}  // namespace fleet::coordinator
