// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/protocol/event.hpp"

#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

namespace fleet::builder {

// Writes the agent's events as JSON lines on one stream, one flushed line per event, from
// any thread. Never throws: losing an event line must not abort a deployment half-way.
class EventWriter {
public:
  explicit EventWriter(std::FILE* stream) : m_stream(stream) {}

  void emit(const protocol::Event& event) noexcept;
  void emit(const std::string& node, protocol::Phase phase, protocol::Status status, std::string_view msg,
            nlohmann::json extra = nlohmann::json::object()) noexcept;
  // Relays a line that is already a serialised event (from an agent on a target) unchanged.
  void relay(std::string_view line) noexcept;

private:
  std::FILE* m_stream;
  std::mutex m_mutex;
};

}  // namespace fleet::builder
