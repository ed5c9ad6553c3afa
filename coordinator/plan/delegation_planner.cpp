// SPDX-License-Identifier: MIT
#include "coordinator/plan/delegation_planner.hpp"

#include "coordinator/config/config_reader.hpp"
#include "uploader/protocol/eval_batches.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <unordered_map>

namespace fleet::coordinator {

namespace {

std::string format_cost(double cost) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f", cost);
  return buffer;
}

std::string plural(std::size_t count, const std::string& word) {
  return std::to_string(count) + " " + word + (count == 1 ? "" : "s");
}

// A builder as the planner sees it: systems are small integers so that each step is cheap.
struct BuilderLoad {
  const BuilderSpec* spec = nullptr;
  double capacity = 1;
  double work = 0;
  std::vector<int> systems;       // ids of systems it can build
  std::vector<int> placed;        // targets placed per system id
  bool available = true;
};

class Planner {
public:
  Planner(const FleetConfig& config, const PlanOptions& options) : m_config(config), m_options(options) {
    for (const auto& [name, builder] : config.builders) {
      if (builder.systems.empty()) {
        fail_config(config.file.string(), json_path("builders", name) + ".systems",
                    "a builder needs the systems it can build", "add \"systems\": [\"x86_64-linux\"]");
      }
      BuilderLoad load;
      load.spec = &builder;
      load.capacity = std::max(1e-9, builder.max_jobs * builder.speed);
      load.available = options.unavailable_builders.count(name) == 0;
      for (const auto& system : builder.systems) {
        load.systems.push_back(system_id(system));
      }
      m_index.emplace(name, m_builders.size());
      m_builders.push_back(std::move(load));
    }
    for (auto& load : m_builders) {
      load.placed.assign(m_system_names.size(), 0);
      for (int id : load.systems) {
        m_capable[static_cast<std::size_t>(id)].push_back(&load);
      }
    }
  }

  // Pinned nodes are fixed; their work is counted before anything is balanced.
  Assignment plan_pinned(const NodeSpec& node) {
    auto found = m_index.find(node.pinned_builder);
    if (found == m_index.end()) {
      fail(node, "build", "'" + node.pinned_builder + "' is not a builder", "use self, delegate, auto or a builder name");
    }
    BuilderLoad& load = m_builders[found->second];
    int system = known_system(node.system);
    if (system < 0 || std::find(load.systems.begin(), load.systems.end(), system) == load.systems.end()) {
      fail(node, "build", "builder '" + node.pinned_builder + "' does not build " + node.system,
           "add \"" + node.system + "\" to builders." + node.pinned_builder + ".systems or pin another builder");
    }
    if (!load.available) {
      return nowhere(node, "pinned to " + node.pinned_builder + ", which is unavailable (" +
                               m_options.unavailable_builders.at(node.pinned_builder) + "); a pinned node is never moved");
    }
    place(load, system);
    return on(node, load, "pinned to " + node.pinned_builder + ", which builds " + node.system);
  }

  // Where a node that is not pinned builds, or nullopt when it is delegated (decided later).
  std::optional<Assignment> plan_fixed(const NodeSpec& node) {
    if (node.build == BuildMode::self) {
      return self(node, "configured to build itself");
    }
    const bool may_self = node.build == BuildMode::automatic && !node.low_power;
    int system = known_system(node.system);
    const auto& all = system < 0 ? m_none : m_capable[static_cast<std::size_t>(system)];
    if (all.empty()) {
      if (may_self) {
        return self(node, "no builder builds " + node.system + "; builds itself");
      }
      std::string why = node.build == BuildMode::delegate ? "it has \"build\": \"delegate\"" : "it is lowPower";
      fail(node, "system", "no builder builds " + node.system + " and the node may not build itself (" + why + ")",
           "add \"" + node.system + "\" to a builder's systems, or set \"build\": \"self\"");
    }
    if (std::none_of(all.begin(), all.end(), [](const BuilderLoad* b) { return b->available; })) {
      std::string gone = "every builder of " + node.system + " is unavailable (" + unavailable_reasons(all) + ")";
      if (may_self) {
        return self(node, gone + "; builds itself");
      }
      return nowhere(node, gone + " and the node may not build itself (" +
                               (node.low_power ? std::string("lowPower") : std::string("build: delegate")) + ")");
    }
    return std::nullopt;
  }

  // The balanced finish time: all delegated work spread over every available builder's capacity.
  void set_balance(const std::vector<const NodeSpec*>& delegated) {
    std::set<int> systems;
    double capacity = 0;
    double work = 0;
    for (const auto& load : m_builders) {
      if (load.available) {
        capacity += load.capacity;
        work += load.work;
      }
    }
    for (const NodeSpec* node : delegated) {
      systems.insert(known_system(node->system));
    }
    work += static_cast<double>(delegated.size()) + k_closure_work * static_cast<double>(systems.size());
    m_balanced = capacity > 0 ? work / capacity : 0;
  }

  // Systems with the fewest capable builders first, then nodes with a site, then by name.
  void order(std::vector<const NodeSpec*>& delegated) const {
    auto rank = [&](const NodeSpec* node) {
      return std::make_tuple(m_capable[static_cast<std::size_t>(known_system(node->system))].size(),
                             node->system, node->site.empty(), node->name);
    };
    std::sort(delegated.begin(), delegated.end(),
              [&](const NodeSpec* a, const NodeSpec* b) { return rank(a) < rank(b); });
  }

  Assignment plan_delegated(const NodeSpec& node) {
    const int system = known_system(node.system);
    std::string prefix = node.low_power && node.build == BuildMode::automatic ? "low-power; "
                         : node.build == BuildMode::delegate                  ? "set to delegate; "
                                                                              : "";
    std::vector<Candidate> candidates;
    for (BuilderLoad* load : m_capable[static_cast<std::size_t>(system)]) {
      if (load->available) {
        candidates.push_back(score(*load, system, node));
      }
    }
    if (auto itself = m_index.find(node.name); itself != m_index.end() && m_builders[itself->second].available) {
      for (const Candidate& c : candidates) {
        if (c.load == &m_builders[itself->second]) {
          place(*c.load, system);
          return on(node, *c.load, prefix + node.name + " is itself a builder of " + node.system + " and builds itself");
        }
      }
    }
    // The best and the runner-up (named in the reason), in one pass: no sort per node.
    std::size_t first = 0;
    std::size_t second = candidates.size() > 1 ? 1 : 0;
    if (candidates.size() > 1 && candidates[1] < candidates[0]) {
      std::swap(first, second);
    }
    for (std::size_t i = 2; i < candidates.size(); ++i) {
      if (candidates[i] < candidates[first]) {
        second = first;
        first = i;
      } else if (candidates[i] < candidates[second]) {
        second = i;
      }
    }
    const Candidate& best = candidates[first];
    std::string why = prefix + best.load->spec->name;
    if (candidates.size() == 1) {
      why += ": the only " + std::string(m_options.unavailable_builders.empty() ? "" : "available ") + "builder of " +
             node.system;
    } else {
      const Candidate& next = candidates[second];
      why += ": cost " + format_cost(best.cost);
      if (best.cost == next.cost) {
        why += ", tied with " + next.load->spec->name + ", " +
               (best.has_system != next.has_system ? "which does not build " + node.system + " yet"
                : best.finish != next.finish     ? "which would finish later"
                                                 : "first by name");
      } else {
        why += ", lowest (" + next.load->spec->name + " " + format_cost(next.cost) + ")";
      }
    }
    if (!node.site.empty()) {
      why += best.load->spec->site == node.site ? "; in site " + node.site
             : any_in_site(system, node.site)   ? "; outside site " + node.site + ", whose builders are busier"
                                                : "; no builder in site " + node.site;
    }
    int sharing = best.load->placed[static_cast<std::size_t>(system)];
    why += sharing > 0 ? "; shares its " + node.system + " closure with " + plural(static_cast<std::size_t>(sharing), "target")
                       : "; first " + node.system + " target there";
    if (std::string avoided = unavailable_reasons(m_capable[static_cast<std::size_t>(system)]); !avoided.empty()) {
      why += "; avoids " + avoided;
    }
    place(*best.load, system);
    return on(node, *best.load, why);
  }

  [[noreturn]] void fail(const NodeSpec& node, const std::string& key, const std::string& problem,
                         const std::string& fix) const {
    fail_config(m_config.file.string(), json_path(json_path("nodes", node.name), key), problem, fix);
  }

private:
  struct Candidate {
    BuilderLoad* load;
    double cost, finish;
    bool has_system;

    // Among equal costs: keep a system together, then leave builders of more systems free for
    // the systems only they can build, then finish sooner, then by name.
    bool operator<(const Candidate& other) const {
      return std::make_tuple(cost, !has_system, load->systems.size(), finish, load->spec->name) <
             std::make_tuple(other.cost, !other.has_system, other.load->systems.size(), other.finish,
                             other.load->spec->name);
    }
  };

  Candidate score(BuilderLoad& load, int system, const NodeSpec& node) const {
    bool has_system = load.placed[static_cast<std::size_t>(system)] > 0;
    double finish = (load.work + 1 + (has_system ? 0 : k_closure_work)) / load.capacity;
    double cost = std::max(finish, m_balanced);
    if (!node.site.empty() && load.spec->site != node.site) {
      cost += k_cross_site;
    }
    // Rounded so that equal costs compare equal whatever the order of floating-point sums.
    return {&load, std::round(cost * 1e6) / 1e6, std::round(finish * 1e6) / 1e6, has_system};
  }

  bool any_in_site(int system, const std::string& site) const {
    const auto& all = m_capable[static_cast<std::size_t>(system)];
    return std::any_of(all.begin(), all.end(), [&](const BuilderLoad* b) { return b->available && b->spec->site == site; });
  }

  std::string unavailable_reasons(const std::vector<BuilderLoad*>& builders) const {
    std::string out;
    for (const BuilderLoad* b : builders) {
      if (!b->available) {
        out += (out.empty() ? "" : ", ") + b->spec->name + ": " + m_options.unavailable_builders.at(b->spec->name);
      }
    }
    return out;
  }

  void place(BuilderLoad& load, int system) {
    int& placed = load.placed[static_cast<std::size_t>(system)];
    load.work += 1 + (placed == 0 ? k_closure_work : 0);
    ++placed;
  }

  int system_id(const std::string& system) {
    auto [it, inserted] = m_system_ids.try_emplace(system, static_cast<int>(m_system_names.size()));
    if (inserted) {
      m_system_names.push_back(system);
      m_capable.emplace_back();
    }
    return it->second;
  }

  int known_system(const std::string& system) const {
    auto it = m_system_ids.find(system);
    return it == m_system_ids.end() ? -1 : it->second;
  }

  static Assignment self(const NodeSpec& node, std::string reason) {
    return {node.name, node.system, Location::self, "", std::move(reason), node.site, 1, 1};
  }
  static Assignment nowhere(const NodeSpec& node, std::string reason) {
    return {node.name, node.system, Location::none, "", std::move(reason), node.site, 0, 0};
  }
  static Assignment on(const NodeSpec& node, const BuilderLoad& load, std::string reason) {
    return {node.name, node.system, Location::builder, load.spec->name, std::move(reason), node.site, 0, 0};
  }

  const FleetConfig& m_config;
  const PlanOptions& m_options;
  std::vector<BuilderLoad> m_builders;
  std::unordered_map<std::string, std::size_t> m_index;
  std::unordered_map<std::string, int> m_system_ids;
  std::vector<std::string> m_system_names;
  std::vector<std::vector<BuilderLoad*>> m_capable;  // per system id
  std::vector<BuilderLoad*> m_none;
  double m_balanced = 0;
};

// The agent evaluates a builder's targets in job order (system, then node; see build_locations) in
// batches sized by eval_batch_sizes from its MemAvailable; memoryMB stands in for that here, and
// without it only the agent can tell.
void estimate_batches(const FleetConfig& config, std::vector<Assignment>& assignments) {
  std::map<std::string, std::vector<Assignment*>> by_builder;
  for (auto& a : assignments) {
    if (a.location == Location::builder) {
      by_builder[a.builder].push_back(&a);
    }
  }
  for (auto& [name, list] : by_builder) {
    const BuilderSpec& builder = config.builders.at(name);
    auto workers = [&](std::size_t batch_size) {
      return static_cast<int>(protocol::eval_worker_sizes(batch_size, static_cast<std::size_t>(builder.max_jobs)).size());
    };
    if (builder.memory_mb <= 0) {
      for (auto* a : list) {
        a->workers = workers(list.size());
      }
      continue;
    }
    std::sort(list.begin(), list.end(), [](const Assignment* a, const Assignment* b) {
      return std::tie(a->system, a->node) < std::tie(b->system, b->node);
    });
    auto sizes = protocol::eval_batch_sizes(list.size(), static_cast<std::uint64_t>(builder.memory_mb),
                                            builder.eval_memory_mb);
    std::size_t next = 0;
    for (std::size_t batch = 0; batch < sizes.size(); ++batch) {
      for (std::size_t i = 0; i < sizes[batch]; ++i, ++next) {
        list[next]->batch = static_cast<int>(batch) + 1;
        list[next]->batches = static_cast<int>(sizes.size());
        list[next]->workers = workers(sizes[batch]);
      }
    }
  }
}

}  // namespace

DeployPlan plan_deployment(const FleetConfig& config, const std::vector<std::string>& selected,
                           const PlanOptions& options) {
  std::set<std::string> names(selected.begin(), selected.end());
  for (const auto& name : names) {
    if (config.nodes.count(name) == 0) {
      fail_config(config.file.string(), json_path("nodes", name), "no such node",
                  "select nodes defined in fleet.json");
    }
  }
  Planner planner(config, options);
  std::map<std::string, Assignment> assignments;
  for (const auto& name : names) {
    if (config.nodes.at(name).build == BuildMode::pinned) {
      assignments.emplace(name, planner.plan_pinned(config.nodes.at(name)));
    }
  }
  std::vector<const NodeSpec*> delegated;
  for (const auto& name : names) {
    const NodeSpec& node = config.nodes.at(name);
    if (node.build == BuildMode::pinned) {
      continue;
    }
    if (auto fixed = planner.plan_fixed(node)) {
      assignments.emplace(name, std::move(*fixed));
    } else {
      delegated.push_back(&node);
    }
  }
  planner.set_balance(delegated);
  planner.order(delegated);
  for (const NodeSpec* node : delegated) {
    assignments.emplace(node->name, planner.plan_delegated(*node));
  }
  DeployPlan plan;
  plan.assignments.reserve(assignments.size());
  for (auto& [name, assignment] : assignments) {
    plan.assignments.push_back(std::move(assignment));
  }
  estimate_batches(config, plan.assignments);
  return plan;
}

}  // namespace fleet::coordinator
