// SPDX-License-Identifier: MIT
#include "coordinator/run/build_location.hpp"

#include <map>

namespace fleet::coordinator {

std::vector<BuildLocation> build_locations(const FleetConfig& config, const DeployPlan& plan,
                                           const std::string& action_override) {
  std::map<std::string, BuildLocation> builders;
  std::vector<BuildLocation> selves;
  for (const auto& assignment : plan.assignments) {
    const NodeSpec& node = config.nodes.at(assignment.node);
    protocol::JobTarget target;
    target.node = node.name;
    target.host = node.host;
    target.user = node.user;
    target.port = node.port;
    target.host_key = node.host_key;
    target.action = !action_override.empty() ? action_override : (node.action.empty() ? "switch" : node.action);

    if (assignment.location == Location::self) {
      target.mode = protocol::TargetMode::self;
      BuildLocation location{node.name, false, {node.host, node.user, node.port, node.host_key}, {target}, config.run};
      selves.push_back(std::move(location));
      continue;
    }
    target.mode = protocol::TargetMode::delegate;
    auto [it, inserted] = builders.try_emplace(assignment.builder);
    if (inserted) {
      const BuilderSpec& builder = config.builders.at(assignment.builder);
      it->second.name = builder.name;
      it->second.is_builder = true;
      it->second.run = config.run;
      it->second.ssh = {builder.host, builder.user, builder.port, ""};
    }
    it->second.targets.push_back(std::move(target));
  }
  std::vector<BuildLocation> locations;
  for (auto& [name, location] : builders) {
    locations.push_back(std::move(location));
  }
  for (auto& location : selves) {
    locations.push_back(std::move(location));
  }
  return locations;
}

}  // namespace fleet::coordinator
