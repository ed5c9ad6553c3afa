// SPDX-License-Identifier: MIT
#include "builder/activation/follow.hpp"

#include "uploader/base/error.hpp"

#include <cerrno>
#include <csignal>
#include <fstream>
#include <thread>

namespace fleet::builder {
namespace {

constexpr std::chrono::milliseconds k_poll{100};
constexpr std::chrono::seconds k_start_grace{30};

// True while the supervisor whose pid it recorded still runs (or has not recorded it yet).
bool supervisor_alive(const ActivationStore& store, const std::string& id, std::chrono::steady_clock::time_point since) {
  std::ifstream in(store.pid_file(id));
  pid_t pid = 0;
  if (!(in >> pid) || pid <= 0) {
    return std::chrono::steady_clock::now() - since < k_start_grace;
  }
  return kill(pid, 0) == 0 || errno == EPERM;
}

}  // namespace

std::string follow_activation(const ActivationStore& store, const std::string& id, std::size_t from_line,
                              EventWriter& out) {
  auto started = std::chrono::steady_clock::now();
  std::string node = id;
  std::size_t line_number = 0;
  std::string pending;
  std::ifstream in;
  bool dead_checked = false;
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
        node = event.node;
        if (event.extra.contains("final") && event.extra["final"].is_string()) {
          return event.extra["final"].get<std::string>();
        }
      } catch (const ProtocolError&) {
        // Only the supervisor writes this file; a damaged line is relayed for the record.
      }
    }
    in.clear();
    if (!progressed) {
      if (!supervisor_alive(store, id, started)) {
        if (dead_checked) {
          out.emit(node, protocol::Phase::activate, protocol::Status::fail,
                   "the activation supervisor of '" + id + "' stopped without a result", {{"final", "failed"}});
          return "failed";
        }
        dead_checked = true;  // read once more: it may have written its last line just before exiting
        continue;
      }
      std::this_thread::sleep_for(k_poll);
    }
  }
}

}  // namespace fleet::builder
