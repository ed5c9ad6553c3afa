// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/run/build_location.hpp"
#include "uploader/protocol/job.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fleet::coordinator {

// What every build job of a run shares.
struct JobSource {
  std::string run_id;
  std::string source_hash;
  std::string flake = ".";
  std::map<std::string, std::string> nix_options;
  std::optional<protocol::InventoryKind> inventory;  // where the toplevels are (fleet.json "inventory")
  bool remote_builders = false;  // fleet.json "remoteBuilders"
};

// The one place a build job is made: `targets` of `location` (those still to do), built from
// `source`, under the location's time limits and retries. `work_dir_suffix` tells a second job on
// the same host in one run (after failover) to use a work directory of its own.
protocol::BuildJob make_build_job(const JobSource& source, const BuildLocation& location,
                                  std::vector<protocol::JobTarget> targets, const std::string& work_dir_suffix = "");

// How long the whole job may take: the probe with its retries, evaluation, the builds and the
// deliveries as many at a time as the agent runs them, each copy and activation with its own connection, plus slack
// for the agent's own bookkeeping. Past it the coordinator gives the job up.
std::chrono::seconds job_time_bound(const protocol::BuildJob& job);

}  // namespace fleet::coordinator
