// SPDX-License-Identifier: MIT
#include "coordinator/plan/deploy_plan.hpp"

#include <set>

namespace fleet::coordinator {

std::vector<std::string> DeployPlan::builders_used() const {
  std::set<std::string> builders;
  for (const auto& assignment : assignments) {
    if (assignment.location == Location::builder) {
      builders.insert(assignment.builder);
    }
  }
  return {builders.begin(), builders.end()};
}

std::vector<std::string> DeployPlan::nodes_built_by(const std::string& builder) const {
  std::vector<std::string> nodes;
  for (const auto& assignment : assignments) {
    if (assignment.location == Location::builder && assignment.builder == builder) {
      nodes.push_back(assignment.node);
    }
  }
  return nodes;
}

}  // namespace fleet::coordinator
