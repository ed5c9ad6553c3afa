// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/config/fleet_config.hpp"
#include "coordinator/plan/deploy_plan.hpp"
#include "uploader/protocol/job.hpp"
#include "uploader/ssh/ssh_target.hpp"

#include <optional>
#include <string>
#include <vector>

namespace fleet::coordinator {

// A host that receives the source and runs one build job: a builder serving delegated
// targets, or a self-building target serving itself.
struct BuildLocation {
  std::string name;  // builder name, or the node's own name when it builds itself
  bool is_builder = false;
  ssh::SshTarget ssh;
  std::vector<protocol::JobTarget> targets;  // a builder's in system, then node order (its batches)
  int eval_memory_mb = protocol::k_default_eval_memory_mb;  // the builder's evalMemoryMB, else the top-level one
  int eval_workers = 1;  // evaluators at once: a builder's maxJobs; a self-building target has itself only
  RunSettings run;  // time limits and retries that apply to this location's work
  // A builder's systems, maxJobs and speed, for the other builders' nix when it is a remote builder.
  std::vector<std::string> systems;
  int max_jobs = 1;
  double speed = 1;
};

// The builder as a location with no targets yet, carrying the config's run settings.
BuildLocation builder_location(const FleetConfig& config, const BuilderSpec& builder);

// Groups the plan's assignments by where they build, in a stable order (builders by name,
// then self-building nodes). `action_override` (from --action) replaces each node's action; a
// node without one, and no override, gets switch.
// Nodes with Location::none are left out (the caller fails them with their reason).
// Every location carries the config's run settings (timeouts, retries).
std::vector<BuildLocation> build_locations(const FleetConfig& config, const DeployPlan& plan,
                                           std::optional<protocol::Action> action_override);

}  // namespace fleet::coordinator
