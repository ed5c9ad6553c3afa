// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/report/run_recorder.hpp"
#include "coordinator/run/agent_link.hpp"
#include "coordinator/run/build_location.hpp"
#include "coordinator/run/node_state.hpp"
#include "coordinator/run/run_loop.hpp"
#include "coordinator/view/progress_view.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace fleet::coordinator {

// An activation in progress on a self-building target, as its events announced it.
struct ActivationTrack {
  std::string id;
  std::size_t events_seen = 0;  // of the activation's own events, for `attach --from`
  // When the target's activation can have ended at the latest, by its own limits
  // (timeouts.activate, then the confirmation window) and a connection's time.
  std::chrono::steady_clock::time_point ends_by;
};

// One build location during a run: its link and what the run learnt of it.
struct LocationRun {
  BuildLocation location;
  std::unique_ptr<AgentLink> link;
  std::map<std::string, ActivationTrack> activations;
  std::set<std::string> reattached;
  std::string stderr_tail;
  bool reachable = false;
  bool started = false;
};

// What the parts of one run share; touched only on the loop thread. Every event about a node,
// the agents' and the coordinator's own, goes through `tracker`, which the recorder and the view
// observe; the view also hears the coordinator's notes.
struct RunState {
  RunLoop& loop;
  NodeTracker& tracker;
  RunRecorder& recorder;
  ProgressView& view;
  std::vector<std::unique_ptr<LocationRun>> runs;

  const BuildLocation& location(std::size_t i) const { return runs[i]->location; }

  // An event the coordinator makes about `node`, served by location `i`.
  void emit(std::size_t i, const std::string& node, protocol::Phase phase, protocol::Status status,
            const std::string& msg) const;
  // The same event for every node location `i` still has work for.
  void tell_open(std::size_t i, protocol::Phase phase, protocol::Status status, const std::string& msg) const;
  // Fails, with `why`, every node location `i` still has work for.
  void fail_open(std::size_t i, protocol::Phase phase, const std::string& why) const {
    tell_open(i, phase, protocol::Status::fail, why);
  }
};

}  // namespace fleet::coordinator
