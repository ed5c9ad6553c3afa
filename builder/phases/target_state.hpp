// SPDX-License-Identifier: MIT
#pragma once

#include "builder/secrets/target_secrets.hpp"
#include "builder/target_agent.hpp"
#include "uploader/protocol/job.hpp"

#include <algorithm>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace fleet::builder {

// One target as it moves through the agent's phases. A failed target is skipped by every
// later phase, while the others go on.
struct TargetState {
  protocol::JobTarget target;
  std::string drv_path;
  std::string out_path;
  bool failed = false;
  secrets::TargetSecrets secrets;  // ciphertexts only, read from the source before delivery
  // A delegated target's own fleet-builder, as the probe found it, and the one that runs there
  // for activate, confirm and attach (chosen at delivery, when the system closure is known).
  TargetAgentProbe own_agent{};
  TargetAgent agent{};

  // The command that runs the agent on a delegated target: "fleet-builder" or a store path.
  const std::string& agent_command() const { return agent.command; }
};

// Runs `work` on each target not yet failed, at most `limit` at a time. Each call touches only
// its own TargetState, so no locking is needed beyond the EventWriter's.
inline void for_each_live_target(std::vector<TargetState>& targets, std::size_t limit,
                                 const std::function<void(TargetState&)>& work) {
  std::vector<TargetState*> live;
  for (auto& t : targets) {
    if (!t.failed) {
      live.push_back(&t);
    }
  }
  for (std::size_t begin = 0; begin < live.size(); begin += limit) {
    std::vector<std::thread> workers;
    for (std::size_t i = begin; i < std::min(live.size(), begin + limit); ++i) {
      workers.emplace_back([&work, state = live[i]] { work(*state); });
    }
    for (auto& w : workers) {
      w.join();
    }
  }
}

}  // namespace fleet::builder
