// SPDX-License-Identifier: MIT
// Every line a peer sends the other side: agent events, build jobs, receive greetings and payload
// headers, relay outcomes and requests, version answers. The first byte picks the reader; any
// input must end in a value or a fleet::ProtocolError.
#include "uploader/base/error.hpp"
#include "uploader/protocol/agent_version.hpp"
#include "uploader/protocol/event.hpp"
#include "uploader/protocol/job.hpp"
#include "uploader/transfer/relay_messages.hpp"
#include "uploader/transfer/transfer_messages.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace fleet;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view line(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    switch (data[0] % 6) {
    case 0:
      protocol::parse_event_line(line);
      break;
    case 1:
      protocol::parse_build_job(nlohmann::json::parse(line, nullptr, false));
      break;
    case 2:
      transfer::parse_receive_hello(line);
      transfer::parse_payload_header(line, 1 << 20);
      break;
    case 3:
      transfer::parse_relay_outcome(line);
      break;
    case 4:
      transfer::parse_relay_request(nlohmann::json::parse(line, nullptr, false));
      break;
    default:
      protocol::parse_agent_version(line);
      break;
    }
  } catch (const ProtocolError&) {
  }
  return 0;
}
