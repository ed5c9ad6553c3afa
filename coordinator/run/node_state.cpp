// SPDX-License-Identifier: MIT
#include "coordinator/run/node_state.hpp"

#include "uploader/base/error.hpp"

#include <utility>

namespace fleet::coordinator {
namespace {

using protocol::Phase;
using protocol::Status;

// What one event does to a node in `state` whose success is `final_phase`.
NodeState next_state(NodeState state, const protocol::Event& event, Phase final_phase) {
  if (event.phase == Phase::rollback && event.status == Status::ok) {
    return NodeState::rolled_back;
  }
  if (event.status == Status::fail) {
    return state == NodeState::rolled_back ? state : NodeState::failed;
  }
  switch (state) {
  case NodeState::waiting:
  case NodeState::working:
    return event.status == Status::ok && event.phase == final_phase ? NodeState::completed : NodeState::working;
  case NodeState::completed:
  case NodeState::ok:
  case NodeState::failed:
  case NodeState::rolled_back:
    return state;
  }
  return state;
}

}  // namespace

protocol::NodeResult result_of(NodeState state) {
  switch (state) {
  case NodeState::ok:
    return protocol::NodeResult::ok;
  case NodeState::rolled_back:
    return protocol::NodeResult::rolled_back;
  case NodeState::failed:
  case NodeState::working:
  case NodeState::completed:
    return protocol::NodeResult::failed;
  case NodeState::waiting:
    return protocol::NodeResult::skipped;
  }
  return protocol::NodeResult::skipped;
}

NodeTracker::NodeTracker(const std::vector<std::string>& nodes) {
  for (const auto& node : nodes) {
    m_nodes.try_emplace(node);
  }
}

void NodeTracker::subscribe(NodeObserver& observer) { m_observers.push_back(&observer); }

const NodeTracker::Node& NodeTracker::at(const std::string& node) const {
  auto it = m_nodes.find(node);
  if (it == m_nodes.end()) {
    throw InternalError("node tracker: '" + node + "' is not part of this run");
  }
  return it->second;
}

NodeTracker::Node& NodeTracker::at(const std::string& node) {
  return const_cast<Node&>(std::as_const(*this).at(node));
}

void NodeTracker::announce(const NodeTransition& transition) {
  for (auto* observer : m_observers) {
    observer->on_transition(transition);
  }
}

void NodeTracker::assign(const std::string& node, std::size_t location, Phase final_phase) {
  Node& state = at(node);
  state.location = location;
  state.assigned = true;
  state.final_phase = final_phase;
}

bool NodeTracker::on_event(std::size_t location, const protocol::Event& event) {
  auto it = m_nodes.find(event.node);
  if (it == m_nodes.end() || !it->second.assigned || it->second.location != location) {
    return false;
  }
  Node& node = it->second;
  node.state = next_state(node.state, event, node.final_phase);
  announce({it->first, node.state, &event, nullptr, event.ts});
  return true;
}

void NodeTracker::move(const std::string& node, std::size_t to, Phase final_phase, const NodeMove& move, double now) {
  Node& state = at(node);
  state.location = to;
  state.assigned = true;
  state.final_phase = final_phase;
  state.state = NodeState::waiting;
  announce({node, state.state, nullptr, &move, now});
}

std::vector<std::string> NodeTracker::job_ended(std::size_t location, double now) {
  std::vector<std::string> open;
  for (auto& [name, node] : m_nodes) {
    if (!node.assigned || node.location != location) {
      continue;
    }
    if (node.state == NodeState::completed) {
      node.state = NodeState::ok;
      announce({name, node.state, nullptr, nullptr, now});
    } else if (node.state == NodeState::waiting || node.state == NodeState::working) {
      open.push_back(name);
    }
  }
  return open;
}

bool NodeTracker::open_at(const std::string& node, std::size_t location) const {
  const Node& state = at(node);
  return state.assigned && state.location == location &&
         (state.state == NodeState::waiting || state.state == NodeState::working);
}

NodeState NodeTracker::state(const std::string& node) const { return at(node).state; }

}  // namespace fleet::coordinator
