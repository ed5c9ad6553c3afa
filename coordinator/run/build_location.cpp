// SPDX-License-Identifier: MIT
#include "coordinator/run/build_location.hpp"

#include <algorithm>
#include <filesystem>
#include <map>

namespace fleet::coordinator {

BuildLocation builder_location(const FleetConfig& config, const BuilderSpec& builder) {
  BuildLocation location;
  location.name = builder.name;
  location.is_builder = true;
  location.run = config.run;
  location.ssh = {builder.host, builder.user, builder.port, ""};
  location.eval_memory_mb = builder.eval_memory_mb;
  location.eval_workers = std::min(builder.max_jobs, protocol::k_max_eval_workers);
  location.systems = builder.systems;
  location.max_jobs = builder.max_jobs;
  location.speed = builder.speed;
  return location;
}

std::vector<BuildLocation> build_locations(const FleetConfig& config, const DeployPlan& plan,
                                           std::optional<protocol::Action> action_override) {
  std::map<std::string, BuildLocation> builders;
  std::vector<BuildLocation> selves;
  std::map<std::string, std::vector<std::pair<std::string, protocol::JobTarget>>> by_builder;
  for (const auto& assignment : plan.assignments) {
    if (assignment.location == Location::none) {
      continue;
    }
    const NodeSpec& node = config.nodes.at(assignment.node);
    protocol::JobTarget target;
    target.node = node.name;
    target.host = node.host;
    target.user = node.user;
    target.port = node.port;
    target.host_key = node.host_key;
    target.substitute_on_target = node.substitute_on_target;
    target.action = action_override.value_or(node.action.value_or(protocol::Action::switch_));
    for (const auto& check : node.health_checks) {
      auto json = check.params;
      json["type"] = check.type;
      target.activation.health_checks.push_back(std::move(json));
    }
    target.activation.pre_activate_hook = node.pre_activate_hook;
    target.activation.post_activate_hook = node.post_activate_hook;
    target.activation.hook_timeout = node.hook_timeout;
    target.activation.rollback_on_hook_failure = node.rollback_on_hook_failure;
    target.activation.confirm_timeout = node.confirm_timeout;
    for (const auto& secret : node.secrets) {
      // The agent finds the ciphertext in the unpacked source, so the path is relative to it.
      std::error_code ec;
      auto absolute = std::filesystem::weakly_canonical(config.file.parent_path() / secret.file, ec);
      auto file = (ec ? (config.file.parent_path() / secret.file).lexically_normal() : absolute)
                      .lexically_relative(config.source_dir);
      target.secrets.push_back({secret.name, file.generic_string(), secret.dest, secret.owner, secret.group,
                                secret.mode, secret.when, secret.required});
    }

    if (assignment.location == Location::self) {
      target.mode = protocol::TargetMode::self;
      BuildLocation location;
      location.name = node.name;
      location.ssh = {node.host, node.user, node.port, node.host_key};
      location.targets = {target};
      location.eval_memory_mb = config.eval_memory_mb;
      location.run = config.run;
      selves.push_back(std::move(location));
      continue;
    }
    target.mode = protocol::TargetMode::delegate;
    auto [it, inserted] = builders.try_emplace(assignment.builder);
    if (inserted) {
      it->second = builder_location(config, config.builders.at(assignment.builder));
    }
    by_builder[assignment.builder].emplace_back(assignment.system, std::move(target));
  }
  std::vector<BuildLocation> locations;
  for (auto& [name, location] : builders) {
    // The agent batches in job order; grouping a system keeps its shared evaluation in one batch.
    auto& targets = by_builder[name];
    std::stable_sort(targets.begin(), targets.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& entry : targets) {
      location.targets.push_back(std::move(entry.second));
    }
    locations.push_back(std::move(location));
  }
  for (auto& location : selves) {
    locations.push_back(std::move(location));
  }
  return locations;
}

}  // namespace fleet::coordinator
