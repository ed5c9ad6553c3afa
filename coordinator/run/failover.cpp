// SPDX-License-Identifier: MIT
#include "coordinator/run/failover.hpp"

#include "coordinator/plan/delegation_planner.hpp"

namespace fleet::coordinator {

FailoverPlan plan_failover(const FleetConfig& config, const std::vector<std::string>& nodes,
                           const std::map<std::string, std::string>& unavailable,
                           std::optional<protocol::Action> action_override) {
  PlanOptions options;
  options.unavailable_builders = unavailable;
  DeployPlan plan = plan_deployment(config, nodes, options);
  FailoverPlan failover;
  for (const auto& assignment : plan.assignments) {
    if (assignment.location == Location::none) {
      failover.stranded[assignment.node] = assignment.reason;
    } else {
      failover.moved_to[assignment.node] = assignment.location == Location::self ? "self" : assignment.builder;
      failover.reasons[assignment.node] = assignment.reason;
    }
  }
  failover.locations = build_locations(config, plan, action_override);
  return failover;
}

}  // namespace fleet::coordinator
