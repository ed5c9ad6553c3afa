// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/report/run_report.hpp"
#include "coordinator/run/node_state.hpp"
#include "uploader/protocol/event.hpp"

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace fleet::coordinator {

// Longest log line a report keeps, in bytes; longer lines are cut (a hostile or chatty agent
// must not make reports huge).
inline constexpr std::size_t k_max_log_line = 1000;

// Longest error a report keeps per failure, in bytes. A longer one keeps its first line (what
// failed) and its end (for a build, the last lines of its log, where the reason is).
inline constexpr std::size_t k_max_error = 2048;

// Longest closure difference a report keeps per node, in bytes.
inline constexpr std::size_t k_max_closure_diff = 32 * 1024;

// Builds a RunReport from what happens during a run, on the orchestrator's one thread: each
// node's transitions (it observes the NodeTracker) and the run's transfers.
class RunRecorder final : public NodeObserver {
public:
  // Every node of the run starts as "skipped" until something happens to it.
  RunRecorder(std::string run_id, std::vector<std::string> nodes, double started);

  // Folds one transition in. Its event, if any: "start" opens a timing for the phase; "ok"/"fail"
  // closes it (seconds = difference of the event times; 0 when it was never opened) and a "fail"
  // adds "<phase>: <msg>" to the error (as does a "rollback" "ok" with a message); "progress"
  // messages go to the log tail. A string extra["storePath"] sets the store path,
  // extra["previousPath"] and extra["closureDiff"] (on an activation) the replaced system and what
  // changed, extra["evalCpuSeconds"], ["evalPeakMiB"] and ["evalTargets"] (on an eval event, all
  // three and plausible) what the evaluation cost. A move is recorded in the node's moves
  // (built_on becomes its destination; phases still open on the old location close as "fail"). The result follows the state: failed, rolled-back,
  // or ok (which clears the error). Transitions for nodes not in the run are ignored and counted.
  void on_transition(const NodeTransition& transition) override;

  // Every event folded in (for a node of the run) is also passed to `listener`, e.g. to keep each
  // node's full log beside the report.
  void set_event_listener(std::function<void(const protocol::Event&)> listener) { m_listener = std::move(listener); }

  // Records where the node is built: a builder's name or "self".
  void set_built_on(const std::string& node, const std::string& where);

  // Records one tarball transfer.
  void add_transfer(TransferRecord transfer);

  // The outcome so far. Throws fleet::Error for a node that is not part of the run, as does
  // set_built_on (a coordinator bug, unlike a stray event).
  const NodeOutcome& node(const std::string& name) const;

  // How many transitions named a node that is not part of the run.
  std::size_t ignored_events() const { return m_ignored_events; }

  // The finished report. Phases still open are closed at `finished` with status "fail" so that
  // none is left running. The recorder should not be used afterwards.
  RunReport finish(std::string source_hash, std::string action, std::string config_file, double finished);

private:
  struct NodeRecord {
    NodeOutcome outcome;
    std::map<std::string, double> open_phases;  // phase → start time
  };

  const NodeRecord& state(const std::string& name) const;
  NodeRecord& state(const std::string& name);
  void fold_event(NodeRecord& node, const protocol::Event& event);
  static void add_error(NodeOutcome& outcome, const std::string& phase, const std::string& message);
  static void add_log_line(NodeOutcome& outcome, std::string line);

  std::string m_run_id;
  double m_started;
  std::map<std::string, NodeRecord> m_nodes;
  std::vector<TransferRecord> m_transfers;
  std::size_t m_ignored_events = 0;
  std::function<void(const protocol::Event&)> m_listener;
};

}  // namespace fleet::coordinator
