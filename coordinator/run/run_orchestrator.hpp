// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/config/fleet_config.hpp"
#include "coordinator/report/run_recorder.hpp"
#include "coordinator/run/build_location.hpp"
#include "coordinator/view/progress_view.hpp"
#include "uploader/ssh/ssh_target.hpp"
#include "uploader/tarball/tarball_writer.hpp"
#include "uploader/transfer/source_payload.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fleet::coordinator {

// Everything one run needs, decided before it starts.
struct RunInputs {
  std::string run_id;
  const tarball::PackedTarball* tarball = nullptr;
  // An earlier tar the laptop still has (to send a delta against it), or nullopt.
  transfer::BaseLookup earlier_tar = [](const std::string&) { return std::optional<std::string>(); };
  std::vector<BuildLocation> locations;
  std::string flake = ".";
  std::map<std::string, std::string> nix_options;
  std::size_t jobs = 8;  // build locations worked on at once (each one SSH session)
  ssh::SshOptions ssh;
  // When set, a builder that cannot be reached or dies has its unfinished nodes re-planned
  // (plan_failover) within the run; `action_override` is --action, for those new jobs.
  const FleetConfig* config = nullptr;
  std::optional<protocol::Action> action_override;
};

// Executes a plan: connects to every build location first (so an unreachable host is known
// before any build starts), then has the source reach each (SourceDistribution: the laptop
// uploads once, a delta when it can, and the nodes relay it), then runs every build job. One
// io_context thread owns the recorder and the view; blocking SSH work runs on a pool of
// `jobs` threads and posts its results back. A failed location fails only its own nodes, except
// that a builder found unreachable, or whose agent dies (its connection drops, it is killed, it
// exits other than 0 or 1), has its unfinished nodes moved to other builders (failover): nodes
// already activated stay done, the others are rebuilt elsewhere, each move recorded with its reason.
class RunOrchestrator {
public:
  RunOrchestrator(RunInputs inputs, RunRecorder& recorder, ProgressView& view);
  void run();

private:
  RunInputs m_inputs;
  RunRecorder& m_recorder;
  ProgressView& m_view;
};

}  // namespace fleet::coordinator
