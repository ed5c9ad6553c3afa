// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/report/run_report.hpp"
#include "uploader/protocol/event.hpp"
#include "uploader/protocol/node_result.hpp"

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace fleet::coordinator {

// Where a node's deployment stands during a run.
enum class NodeState {
  waiting,      // nothing has happened to it yet (or it just moved to another location)
  working,      // a phase has started
  completed,    // its final phase succeeded; it is ok once its job ends without failing it
  ok,           // done
  failed,       // something failed; later events still count (a rollback follows a failed check)
  rolled_back,  // rolled back to the previous generation
};

// The result a run report gives a node that ended in `state`: a node still waiting or working
// was never finished, which the orchestrator reports as a failure before it ends.
protocol::NodeResult result_of(NodeState state);

// One change seen by NodeObservers. Every accepted event is one (whether or not it changed the
// state); so are the coordinator's own decisions, which carry no event.
struct NodeTransition {
  const std::string& node;
  NodeState state;                          // after the change
  const protocol::Event* event = nullptr;   // the event that caused it, if any
  const NodeMove* move = nullptr;           // set when the node moved to another build location
  double ts = 0;
};

class NodeObserver {
public:
  virtual ~NodeObserver() = default;
  virtual void on_transition(const NodeTransition& transition) = 0;
};

// The one state machine per node of a run: every event about a node, from an agent or made by
// the coordinator, goes through it, and the recorder and the views learn a node's state only
// from its transitions. Locations are the orchestrator's indices; a node is served by one at a
// time, and events from any other are not its own (it moved away). Used on one thread.
class NodeTracker {
public:
  explicit NodeTracker(const std::vector<std::string>& nodes);

  // Observers hear every transition, in the order they subscribed.
  void subscribe(NodeObserver& observer);

  // `node` is served by `location` from now on; it is completed once `final_phase` succeeds.
  void assign(const std::string& node, std::size_t location, protocol::Phase final_phase);

  // Folds in an event that `location` reported (or the coordinator made for it). Returns false,
  // changing nothing, when the node is not part of the run or is served by another location.
  bool on_event(std::size_t location, const protocol::Event& event);

  // The node leaves its location for `to` (failover): waiting again, with the move recorded.
  void move(const std::string& node, std::size_t to, protocol::Phase final_phase, const NodeMove& move, double now);

  // The job at `location` ended: its completed nodes become ok. Returns the nodes it still
  // serves that are neither done nor failed, for the caller to reattach, fail or move.
  std::vector<std::string> job_ended(std::size_t location, double now);

  // Served by `location` and neither completed nor failed: work for it is still to come.
  bool open_at(const std::string& node, std::size_t location) const;
  NodeState state(const std::string& node) const;

private:
  struct Node {
    NodeState state = NodeState::waiting;
    std::size_t location = 0;
    bool assigned = false;
    protocol::Phase final_phase = protocol::Phase::activate;
  };

  void announce(const NodeTransition& transition);
  Node& at(const std::string& node);
  const Node& at(const std::string& node) const;

  std::map<std::string, Node> m_nodes;
  std::vector<NodeObserver*> m_observers;
};

}  // namespace fleet::coordinator
