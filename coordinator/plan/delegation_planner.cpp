// SPDX-License-Identifier: MIT
#include "coordinator/plan/delegation_planner.hpp"

#include "coordinator/config/config_reader.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace fleet::coordinator {

namespace {

bool can_build(const BuilderSpec& builder, const std::string& system) {
  return std::find(builder.systems.begin(), builder.systems.end(), system) != builder.systems.end();
}

class Planner {
public:
  explicit Planner(const FleetConfig& config) : m_config(config) {}

  Assignment plan_pinned(const NodeSpec& node) {
    auto found = m_config.builders.find(node.pinned_builder);
    if (found == m_config.builders.end()) {
      fail(node, "build", "'" + node.pinned_builder + "' is not a builder", "use self, delegate, auto or a builder name");
    }
    if (!can_build(found->second, node.system)) {
      fail(node, "build", "builder '" + node.pinned_builder + "' does not build " + node.system,
           "add \"" + node.system + "\" to builders." + node.pinned_builder + ".systems or pin another builder");
    }
    ++m_load[node.pinned_builder];
    return {node.name, node.system, Location::builder, node.pinned_builder,
            "pinned to " + node.pinned_builder + ", which builds " + node.system};
  }

  Assignment plan(const NodeSpec& node) {
    switch (node.build) {
    case BuildMode::self:
      return self(node, "configured to build itself");
    case BuildMode::pinned:
      return plan_pinned(node);
    case BuildMode::delegate:
      return delegate(node, "configured to delegate; ");
    case BuildMode::automatic:
      break;
    }
    if (node.low_power) {
      return delegate(node, "low-power node; ");
    }
    if (capable(node.system).empty()) {
      return self(node, "no builder builds " + node.system + "; builds itself");
    }
    return delegate(node, "");
  }

  [[noreturn]] void fail(const NodeSpec& node, const std::string& key, const std::string& problem,
                         const std::string& fix) const {
    fail_config(m_config.file.string(), json_path(json_path("nodes", node.name), key), problem, fix);
  }

private:
  static Assignment self(const NodeSpec& node, std::string reason) {
    return {node.name, node.system, Location::self, "", std::move(reason)};
  }

  std::vector<const BuilderSpec*> capable(const std::string& system) const {
    std::vector<const BuilderSpec*> builders;
    for (const auto& [name, builder] : m_config.builders) {
      if (can_build(builder, system)) {
        builders.push_back(&builder);
      }
    }
    return builders;
  }

  // Load once one more target is added, so a builder with more capacity takes more targets.
  double load_with_one_more(const BuilderSpec& builder) const {
    auto found = m_load.find(builder.name);
    int count = found == m_load.end() ? 0 : found->second;
    return (count + 1) / (builder.max_jobs * builder.speed);
  }

  Assignment delegate(const NodeSpec& node, const std::string& prefix) {
    const std::vector<const BuilderSpec*> all = capable(node.system);
    std::vector<const BuilderSpec*> pool = all;
    if (pool.empty()) {
      fail(node, "system", "no builder builds " + node.system + " and the node may not build itself",
           "add \"" + node.system + "\" to a builder's systems, or set \"build\": \"self\"");
    }
    std::string why;
    auto itself = std::find_if(all.begin(), all.end(), [&](const BuilderSpec* b) { return b->name == node.name; });
    if (itself != all.end()) {
      pool = {*itself};
      why = " (the node is builder " + node.name + " itself)";
    } else if (!node.site.empty()) {
      std::vector<const BuilderSpec*> local;
      std::copy_if(pool.begin(), pool.end(), std::back_inserter(local),
                   [&](const BuilderSpec* b) { return b->site == node.site; });
      if (!local.empty()) {
        pool = local;
        why = " in site " + node.site;
      } else {
        why = " (none in site " + node.site + ")";
      }
    }
    // The pool is in name order, so keeping the first of equal loads breaks ties by name.
    const BuilderSpec* best = pool.front();
    for (const BuilderSpec* candidate : pool) {
      if (load_with_one_more(*candidate) < load_with_one_more(*best)) {
        best = candidate;
      }
    }
    if (pool.size() > 1) {
      why += ", least loaded";
    } else if (all.size() == 1 && itself == all.end()) {
      why += ", the only one that does";
    }
    ++m_load[best->name];
    return {node.name, node.system, Location::builder, best->name, prefix + best->name + " builds " + node.system + why};
  }

  const FleetConfig& m_config;
  std::map<std::string, int> m_load;
};

}  // namespace

DeployPlan plan_deployment(const FleetConfig& config, const std::vector<std::string>& selected) {
  std::set<std::string> names(selected.begin(), selected.end());
  for (const auto& name : names) {
    if (config.nodes.count(name) == 0) {
      fail_config(config.file.string(), json_path("nodes", name), "no such node",
                  "select nodes defined in fleet.json");
    }
  }
  Planner planner(config);
  std::map<std::string, Assignment> assignments;
  // Pinned nodes go first: their builder is fixed, and the balancing should see that load.
  for (const auto& name : names) {
    if (config.nodes.at(name).build == BuildMode::pinned) {
      assignments.emplace(name, planner.plan_pinned(config.nodes.at(name)));
    }
  }
  for (const auto& name : names) {
    if (assignments.count(name) == 0) {
      assignments.emplace(name, planner.plan(config.nodes.at(name)));
    }
  }
  DeployPlan plan;
  for (auto& [name, assignment] : assignments) {
    plan.assignments.push_back(std::move(assignment));
  }
  return plan;
}

}  // namespace fleet::coordinator
