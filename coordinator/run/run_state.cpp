// SPDX-License-Identifier: MIT
#include "coordinator/run/run_state.hpp"

namespace fleet::coordinator {

void RunState::emit(std::size_t i, const std::string& node, protocol::Phase phase, protocol::Status status,
                    const std::string& msg) const {
  tracker.on_event(i, protocol::Event{protocol::now_seconds(), node, phase, status, msg, nlohmann::json::object()});
}

void RunState::tell_open(std::size_t i, protocol::Phase phase, protocol::Status status, const std::string& msg) const {
  for (const auto& target : location(i).targets) {
    if (tracker.open_at(target.node, i)) {
      emit(i, target.node, phase, status, msg);
    }
  }
}

}  // namespace fleet::coordinator
