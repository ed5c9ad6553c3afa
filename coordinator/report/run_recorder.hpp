// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/report/run_report.hpp"
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

// Longest closure difference a report keeps per node, in bytes.
inline constexpr std::size_t k_max_closure_diff = 32 * 1024;

// Builds a RunReport from what happens during a run. Pure logic, fed by the orchestrator on its
// one thread: agent events, the coordinator's own decisions and failures, and transfers.
class RunRecorder {
public:
  // Every node of the run starts as "skipped" until something happens to it.
  RunRecorder(std::string run_id, std::vector<std::string> nodes, double started);

  // Folds one event in. "start" opens a timing for the phase; "ok"/"fail" closes it (seconds =
  // difference of the event times; 0 when it was never opened). "fail" makes the node "failed"
  // (unless it already is, or was rolled back) and adds "<phase>: <msg>" to its error; a
  // "rollback" "ok" makes it "rolled-back". "progress" messages go to the log tail. A string
  // extra["storePath"] sets the store path, extra["previousPath"] and extra["closureDiff"] (on
  // an activation) the replaced system and what changed. A node becomes "ok" only through mark_ok. Events for
  // nodes not in the run are ignored and counted (events are untrusted input).
  void on_event(const protocol::Event& event);

  // Every event folded in (for a node of the run) is also passed to `listener`, e.g. to keep each
  // node's full log beside the report.
  void set_event_listener(std::function<void(const protocol::Event&)> listener) { m_listener = std::move(listener); }

  // Records where the node is built: a builder's name or "self".
  void set_built_on(const std::string& node, const std::string& where);

  // The node moves to another build location (`to`: a builder's name or "self"): recorded in its
  // moves, built_on becomes `to`, and phases still open on the old location close as "fail".
  void move(const std::string& node, const std::string& from, const std::string& to, const std::string& reason,
            double now);

  // The coordinator decided the node succeeded (after a retry too): result "ok", error cleared.
  void mark_ok(const std::string& node);

  // A failure the coordinator saw itself (unreachable builder, timeout, bad event stream):
  // like a "fail" event without timing, so an open timing of that phase stays open until finish.
  void fail(const std::string& node, const std::string& phase, const std::string& error);

  // Records one tarball transfer.
  void add_transfer(TransferRecord transfer);

  // The outcome so far. Throws fleet::Error for a node that is not part of the run, as do
  // set_built_on, mark_ok and fail (a coordinator bug, unlike a stray event).
  const NodeOutcome& node(const std::string& name) const;

  // How many events named a node that is not part of the run.
  std::size_t ignored_events() const { return m_ignored_events; }

  // The finished report. Phases still open are closed at `finished` with status "fail" so that
  // none is left running. The recorder should not be used afterwards.
  RunReport finish(std::string source_hash, std::string action, std::string config_file, double finished);

private:
  struct NodeState {
    NodeOutcome outcome;
    std::map<std::string, double> open_phases;  // phase → start time
  };

  NodeState& state(const std::string& name);
  static void add_error(NodeOutcome& outcome, const std::string& phase, const std::string& message);
  static void add_log_line(NodeOutcome& outcome, std::string line);

  std::string m_run_id;
  double m_started;
  std::map<std::string, NodeState> m_nodes;
  std::vector<TransferRecord> m_transfers;
  std::size_t m_ignored_events = 0;
  std::function<void(const protocol::Event&)> m_listener;
};

}  // namespace fleet::coordinator
