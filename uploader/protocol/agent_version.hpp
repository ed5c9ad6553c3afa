// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <string_view>

namespace fleet::protocol {

// What `fleet-builder version --json` prints: {"agent":"fleet-builder","version":"0.1.0","protocol":2}.
// The release says which binary it is; the protocol says which messages it understands.
struct AgentVersion {
  std::string agent = "fleet-builder";
  std::string version;
  int protocol = 0;

  bool operator==(const AgentVersion&) const = default;
};

// The answer is one short line; anything longer is not a version.
inline constexpr std::size_t k_max_version_answer = 4096;

// This build's own version (FLEET_VERSION, k_protocol_version).
AgentVersion this_agent_version();

// The one-line JSON form, without the newline.
std::string format_agent_version(const AgentVersion& version);

// Parses a peer's answer, treated as hostile: at most k_max_version_answer bytes of one JSON
// object whose "agent" is "fleet-builder", whose "version" is a short release string and whose
// "protocol" is a positive integer. Throws ProtocolError saying what was wrong, with a printable
// excerpt of the answer.
AgentVersion parse_agent_version(std::string_view answer);

// "0.1.0 (protocol 2)", for messages.
std::string describe(const AgentVersion& version);

}  // namespace fleet::protocol
