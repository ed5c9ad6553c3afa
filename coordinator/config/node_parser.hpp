// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/config/fleet_config.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>

namespace fleet::coordinator {

// fleet.json `defaults`, applied to every node that does not set the key itself.
struct NodeDefaults {
  std::optional<std::string> user, build;
  std::optional<protocol::Action> action;
  std::optional<int> port;
};

// Parses `build` ("self", "delegate", "auto" or a builder's name) into `node`. Throws ConfigError
// at `path` when the value is neither a mode nor a builder of `builders`.
void parse_build_mode(const std::string& file, const std::string& path, const std::string& value,
                      const std::map<std::string, BuilderSpec>& builders, NodeSpec& node);

// Parses and validates nodes.<name> of `file`; `builders` must already be parsed. Throws ConfigError
// naming the exact key at fault. Does not check whether a builder can build the node.
NodeSpec parse_node(const std::string& file, const std::string& name, const nlohmann::json& json,
                    const NodeDefaults& defaults, const std::map<std::string, BuilderSpec>& builders);

}  // namespace fleet::coordinator
