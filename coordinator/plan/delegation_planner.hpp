// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/config/fleet_config.hpp"
#include "coordinator/plan/deploy_plan.hpp"

#include <string>
#include <vector>

namespace fleet::coordinator {

// Decides, without touching anything, where each selected node is built (DESIGN.md):
// - build=self: the node itself;
// - build=<builder>: that builder, which must list the node's system;
// - build=delegate: a builder whose systems contain the node's system;
// - auto: delegate when the node is lowPower or some builder builds its system, else self.
// Among capable builders it prefers the node itself when it is also a builder, then builders of the
// node's site, then the one least loaded once this node is added (assigned targets weighted by
// 1/(maxJobs*speed), pinned nodes counted first), then the first by name, so the plan is
// deterministic. Assignments come in node-name order, each with a reason for a person.
// Throws ConfigError for an unknown node or a node no builder can take that may not build itself.
DeployPlan plan_deployment(const FleetConfig& config, const std::vector<std::string>& selected);

}  // namespace fleet::coordinator
