// SPDX-License-Identifier: MIT
#include "builder/activation/follow.hpp"

#include "uploader/base/error.hpp"

#include <fstream>
#include <thread>

namespace fleet::builder {
namespace {

constexpr std::chrono::milliseconds k_poll{100};
constexpr std::chrono::seconds k_start_grace{30};
// A supervisor killed with its unit is finished by the unit's ExecStopPost recover, which takes
// the activation's flock a moment later: a supervisor found dead gets this long to be recovered.
constexpr std::chrono::seconds k_recover_grace{15};

// True while a supervisor (or a recover) holds the activation's flock, or while one has not
// had the time to start and record its first stage.
bool supervisor_alive(const ActivationStore& store, const std::string& id, std::chrono::steady_clock::time_point since) {
  if (store.held(id)) {
    return true;
  }
  return !store.stage(id) && std::chrono::steady_clock::now() - since < k_start_grace;
}

}  // namespace

std::string follow_activation(const ActivationStore& store, const std::string& id, std::size_t from_line,
                              EventWriter& out) {
  auto started = std::chrono::steady_clock::now();
  const std::string node = store.load(id).node;
  std::size_t line_number = 0;
  std::string pending;
  std::ifstream in;
  bool dead = false;
  auto dead_since = started;
  for (;;) {
    if (!in.is_open()) {
      in.open(store.events_file(id));
    }
    std::string line;
    bool progressed = false;
    while (in.is_open() && std::getline(in, line)) {
      if (in.eof()) {
        // A line still being written: keep it until its newline arrives.
        pending += line;
        break;
      }
      line = pending + line;
      pending.clear();
      progressed = true;
      if (line_number++ < from_line) {
        continue;
      }
      out.relay(line);
      try {
        auto event = protocol::parse_event_line(line);
        if (event.extra.contains("final") && event.extra["final"].is_string()) {
          return event.extra["final"].get<std::string>();
        }
      } catch (const ProtocolError&) {
        // Only the supervisor writes this file; a damaged line is relayed for the record.
      }
    }
    in.clear();
    if (progressed || supervisor_alive(store, id, started)) {
      dead = false;
    } else if (!dead) {
      dead = true;
      dead_since = std::chrono::steady_clock::now();
    }
    if (dead && std::chrono::steady_clock::now() - dead_since > k_recover_grace) {
      out.emit(node, protocol::Phase::activate, protocol::Status::fail,
               "the activation supervisor of '" + id + "' stopped without a result; `fleet-builder recover --id " + id +
                   "` (as root) finishes it, as the next activation on this host does first",
               {{"final", "failed"}});
      return "failed";
    }
    if (!progressed) {
      std::this_thread::sleep_for(k_poll);
    }
  }
}

}  // namespace fleet::builder
