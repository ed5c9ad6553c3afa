// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/config/fleet_config.hpp"
#include "coordinator/plan/deploy_plan.hpp"

#include <map>
#include <string>
#include <vector>

namespace fleet::coordinator {

// What a plan may not count on: builders found unreachable or dead during a run, each with the
// reason in words ("unreachable: connection refused"). Nodes are then re-planned around them.
struct PlanOptions {
  std::map<std::string, std::string> unavailable_builders;
};

// Decides, without touching anything, where each selected node is built (README, Delegation):
// - build=self: the node itself; build=<builder>: that builder, which must list the node's system;
// - build=delegate: a builder whose systems contain the node's system;
// - auto: delegate when the node is lowPower or some builder builds its system, else self.
// A node named like a capable builder builds on itself as that builder. Every other delegated node
// goes to the capable builder of least cost, the cost model being (work in units of one target
// build on a builder of capacity 1; capacity = maxJobs × speed):
//   finish(b)  = (work(b) + 1 + (b has no target of this system yet ? k_closure_work : 0)) / capacity(b)
//   cost(b)    = max(finish(b), balanced) + (node and b in different sites ? k_cross_site : 0)
//   balanced   = (delegated targets + k_closure_work × systems) / total capacity of the builders
// where work(b) counts 1 per target and k_closure_work per system placed on b (the closure shared
// by a system's targets is built once per builder). Builders that would finish before `balanced`
// are all equally cheap, so ties go to a builder that already builds the system (grouping), then
// to a builder of fewer systems (versatile ones stay free), then to the lower finish, then by name. Pinned nodes are counted first; then systems with the fewest
// capable builders, nodes with a site before those without, by name. Linear in nodes × builders.
// Each assignment carries a reason for a person, the node's site and its batch estimate (see
// Assignment). Assignments come in node-name order.
// With `options.unavailable_builders`, a node whose builder is unavailable is moved to another
// capable one, or to itself when auto and not lowPower; a pinned node is never moved. A node left
// with no place gets Location::none and the reason.
// Throws ConfigError for an unknown node, a pin to an unknown builder or one lacking the system,
// a builder with no systems, and a node no builder in the config can take that may not build itself.
DeployPlan plan_deployment(const FleetConfig& config, const std::vector<std::string>& selected,
                           const PlanOptions& options = {});

// Work units a new system adds to a builder (its shared closure), and the cost of building a
// node outside its site (copying the closure across sites), as in the cost model above.
inline constexpr double k_closure_work = 2.0;
inline constexpr double k_cross_site = 3.0;

}  // namespace fleet::coordinator
