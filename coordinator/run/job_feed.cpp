// SPDX-License-Identifier: MIT
#include "coordinator/run/job_feed.hpp"

#include "uploader/base/error.hpp"

#include <algorithm>

namespace fleet::coordinator {
namespace {

using protocol::Event;
using protocol::Phase;
using protocol::Status;

constexpr std::size_t k_stderr_tail_bytes = 4096;

}  // namespace

void JobFeed::on_line(std::size_t i, const std::string& line) {
  const BuildLocation& location = m_state.location(i);
  Event event;
  try {
    event = protocol::parse_event_line(line);
  } catch (const ProtocolError& e) {
    m_state.view.on_message("ignored output from " + location.name + ": " + e.what());
    return;
  }
  auto target = std::find_if(location.targets.begin(), location.targets.end(),
                             [&](const protocol::JobTarget& t) { return t.node == event.node; });
  if (target == location.targets.end()) {
    m_state.view.on_message("ignored an event from " + location.name + " about node '" + event.node +
                            "', which it does not serve");
    return;
  }
  // Events about a node that has moved to another builder are not its own any more.
  if (!m_state.tracker.on_event(i, event)) {
    return;
  }
  if (location.is_builder) {
    return;  // a build node follows its targets' activations itself
  }
  auto& run = *m_state.runs[i];
  auto id = event.extra.find("activation");
  if (id != event.extra.end() && id->is_string()) {
    const auto& timeouts = location.run.timeouts;
    run.activations[event.node] = {
        id->get<std::string>(), 0,
        std::chrono::steady_clock::now() +
            std::chrono::seconds{timeouts.activate + target->activation.confirm_timeout + timeouts.connect}};
  } else if (auto track = run.activations.find(event.node); track != run.activations.end()) {
    ++track->second.events_seen;
  }
  auto awaited = event.extra.find("awaitConfirmation");
  if (awaited != event.extra.end() && awaited->is_string()) {
    confirm(i, event.node, awaited->get<std::string>(), target->activation.confirm_timeout);
  }
}

void JobFeed::on_stderr(std::size_t i, const std::string& line) {
  auto& tail = m_state.runs[i]->stderr_tail;
  tail += line + "\n";
  if (tail.size() > k_stderr_tail_bytes) {
    tail.erase(0, tail.size() - k_stderr_tail_bytes);
  }
}

std::string JobFeed::stderr_tail(std::size_t i) const {
  const auto& tail = m_state.runs[i]->stderr_tail;
  return tail.empty() ? "" : ":\n" + tail;
}

// The target waits for its deployer, the laptop, to get through to it over a new connection
// before it keeps its new configuration; a late confirmation means a rollback.
void JobFeed::confirm(std::size_t i, const std::string& node, const std::string& id, int timeout) {
  AgentLink* link = m_state.runs[i]->link.get();
  m_state.loop.offload(RunLoop::Pool::confirmations, [this, i, link, node, id, timeout]() -> RunLoop::Continuation {
    std::string outcome;
    try {
      outcome = link->confirm(id, std::chrono::seconds{timeout});
    } catch (const Error& e) {
      outcome = std::string("confirming failed: ") + e.what();
    }
    return [this, i, node, outcome] { m_state.emit(i, node, Phase::activate, Status::progress, outcome); };
  });
}

bool JobFeed::reattach(std::size_t i, const std::vector<std::string>& open, const AttachEnd& then) {
  auto& run = *m_state.runs[i];
  bool any = false;
  for (const auto& node : open) {
    auto track = run.activations.find(node);
    if (track == run.activations.end() || !run.reattached.insert(node).second) {
      continue;
    }
    any = true;
    const ActivationTrack activation = track->second;
    m_state.emit(i, node, Phase::activate, Status::progress,
                 "connection lost during activation; reattaching to " + activation.id);
    AgentLink* link = run.link.get();
    m_state.loop.offload(RunLoop::Pool::reattachments, [this, i, link, activation, then]() -> RunLoop::Continuation {
      auto sink = [this, i](std::string_view line) { m_state.loop.post([this, i, l = std::string(line)] { on_line(i, l); }); };
      using std::chrono::seconds;
      // At least one try, however late it is.
      const auto left = std::chrono::duration_cast<seconds>(activation.ends_by - std::chrono::steady_clock::now());
      const auto within = std::max(left, seconds{1});
      std::string ending;
      try {
        ending = link->attach(activation.id, activation.events_seen, within, sink);
      } catch (const Error& e) {
        ending = std::string("reattaching failed: ") + e.what();
      }
      return [then, ending] { then(ending); };
    });
  }
  return any;
}

}  // namespace fleet::coordinator
