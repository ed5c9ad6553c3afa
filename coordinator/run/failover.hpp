// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/config/fleet_config.hpp"
#include "coordinator/run/build_location.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fleet::coordinator {

// Where nodes go when builders become unavailable during a run, re-planned by the same pure planner.
struct FailoverPlan {
  std::vector<BuildLocation> locations;        // new jobs for the moved nodes
  std::map<std::string, std::string> moved_to;  // node → builder name, or "self"
  std::map<std::string, std::string> reasons;   // node → the planner's reason for its new place
  std::map<std::string, std::string> stranded;  // node → why no builder is left for it
};

// Re-plans `nodes` (of a run with `action_override`) around `unavailable` builders (name → why):
// onto other capable builders, or onto the node itself when auto and not lowPower. Pinned nodes
// and nodes no available builder can take end up in `stranded` with the reason.
FailoverPlan plan_failover(const FleetConfig& config, const std::vector<std::string>& nodes,
                           const std::map<std::string, std::string>& unavailable,
                           std::optional<protocol::Action> action_override);

}  // namespace fleet::coordinator
