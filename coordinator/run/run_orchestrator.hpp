// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/config/fleet_config.hpp"
#include "coordinator/report/run_recorder.hpp"
#include "coordinator/run/agent_link.hpp"
#include "coordinator/run/build_job.hpp"
#include "coordinator/run/build_location.hpp"
#include "coordinator/run/job_feed.hpp"
#include "coordinator/run/node_state.hpp"
#include "coordinator/run/run_loop.hpp"
#include "coordinator/run/run_state.hpp"
#include "coordinator/run/source_round.hpp"
#include "coordinator/view/progress_view.hpp"
#include "uploader/tarball/tarball_writer.hpp"
#include "uploader/transfer/source_payload.hpp"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fleet::coordinator {

// Everything one run needs, decided before it starts.
struct RunInputs {
  JobSource job;  // its source_hash is the final source's, filled in by the run
  const tarball::PackedTarball* tarball = nullptr;
  // An earlier tar the laptop still has (to send a delta against it), or nullopt.
  transfer::BaseLookup earlier_tar = [](const std::string&) { return std::optional<std::string>(); };
  std::vector<BuildLocation> locations;
  std::size_t jobs = 8;  // build locations worked on at once (each one connection)
  // When set, a builder that cannot be reached or dies has its unfinished nodes re-planned
  // (plan_failover) within the run; `action_override` is --action, for those new jobs.
  const FleetConfig* config = nullptr;
  std::optional<protocol::Action> action_override;
  // --update-inputs: when set, the first reachable location runs `nix flake update` on the
  // source before it goes round, and this repacks the source with the lock that came back.
  std::function<tarball::PackedTarball(const InputUpdate&)> repack_with_update;
  // --skip-unchanged: asked once the source is final; a reason skips the run (nothing is built).
  std::function<std::string(const std::string& source_hash)> skip_reason;
};

// What a run decided about the source, for its report.
struct RunOutcome {
  std::string source_hash;  // what was built: after --update-inputs, the repacked source
  std::string flake_lock;   // the lock --update-inputs made, when it did
  std::string skipped;      // why the run was skipped, when it was
};

// Executes a plan in stages: connect to every build location and check its agent (so an
// unreachable host is known before anything is built); with --update-inputs, update the flake
// inputs on the first one; have the source reach each (SourceRound: the laptop uploads once and
// the nodes relay it); then run every build job, following self-building targets' activations
// (JobFeed). Every event about a node goes through `tracker`, which the recorder and the view
// observe. A failed location fails only its own nodes, except that a builder found unreachable,
// or whose agent dies, has its unfinished nodes moved to other builders (failover): nodes already
// activated stay done, the others are rebuilt elsewhere, each move recorded with its reason.
class RunOrchestrator {
public:
  RunOrchestrator(RunInputs inputs, AgentLinkFactory links, NodeTracker& tracker, RunRecorder& recorder,
                  ProgressView& view);

  // Carries the plan out, to the end of every location's work. Call it once. Throws only for a
  // bug (anything the agents or the network do ends as the nodes' results).
  RunOutcome run();

private:
  const BuildLocation& location(std::size_t i) const { return m_state.location(i); }
  std::size_t add_location(const BuildLocation& location, bool assign);
  bool skip(const std::string& hash);
  // Stage 1: reach every location and check its agent.
  void connect(std::size_t i);
  void connected(std::size_t i, const std::string& unusable, const std::string& error);
  void all_connected();
  // Stage 1b: --update-inputs.
  void update_inputs(std::size_t i);
  void sent_for_update(const std::string& name, const TransferRecord& sent);
  void inputs_updated(const std::string& name, const InputUpdate& update);
  void fail_everything(protocol::Phase phase, const std::string& why);
  // Stage 2: the source goes round.
  void share_source(const tarball::PackedTarball& source);
  void start_jobs_when_shared();
  // Stage 3: the build jobs.
  void start_job(std::size_t i);
  std::vector<protocol::RemoteBuilder> remote_builders_for(std::size_t i) const;
  void job_done(std::size_t i, const std::string& ending, bool died);
  // Failover, at any stage.
  bool fail_over(std::size_t i, protocol::Phase phase, const std::string& why);
  std::pair<std::size_t, bool> place(const BuildLocation& location);

  // All state is the loop thread's; pool work uses only the link and the values captured for it
  // when it was offloaded.
  RunInputs m_inputs;
  AgentLinkFactory m_links;
  RunLoop m_loop;
  RunState m_state;
  JobFeed m_feed;
  RunOutcome m_outcome;
  std::unique_ptr<SourceRound> m_round;             // once the source is final
  std::optional<tarball::PackedTarball> m_updated;  // the source --update-inputs repacked
  std::map<std::string, std::string> m_unavailable;  // builder → why, for re-planning
  std::size_t m_connecting = 0;
  bool m_updating = false;
  bool m_started_jobs = false;
};

// The phase whose success means a target is done: activation, except for `build`, where a
// delegated target is done once its closure is on it.
protocol::Phase final_phase(const protocol::JobTarget& target);

}  // namespace fleet::coordinator
