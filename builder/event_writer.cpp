// SPDX-License-Identifier: MIT
#include "builder/event_writer.hpp"

namespace fleet::builder {

void EventWriter::emit(const protocol::Event& event) noexcept {
  try {
    relay(protocol::to_json_line(event));
  } catch (...) {
    // Out of memory while serialising: nothing sensible left to report through this channel.
  }
}

void EventWriter::emit(const std::string& node, protocol::Phase phase, protocol::Status status, std::string_view msg,
                       nlohmann::json extra) noexcept {
  try {
    emit(protocol::Event{protocol::now_seconds(), node, phase, status, std::string(msg), std::move(extra)});
  } catch (...) {
  }
}

void EventWriter::relay(std::string_view line) noexcept {
  std::lock_guard lock(m_mutex);
  std::fwrite(line.data(), 1, line.size(), m_stream);
  std::fputc('\n', m_stream);
  std::fflush(m_stream);
}

}  // namespace fleet::builder
