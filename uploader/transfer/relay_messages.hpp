// SPDX-License-Identifier: MIT
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fleet::transfer {

// A build location a node sends the source on to, addressed as the coordinator reaches it, with
// the host key the coordinator verified (or the one pinned in fleet.json).
struct RelayDestination {
  std::string name;
  std::string host;
  std::string user;  // empty: as the relaying node's ~/.ssh/config says
  int port = 0;      // 0: as the relaying node's ~/.ssh/config says
  std::string host_key;

  bool operator==(const RelayDestination&) const = default;
};

// What `fleet-builder relay --hash H` reads on stdin: where to send H, within `timeout` seconds
// per destination.
struct RelayRequest {
  std::vector<RelayDestination> destinations;
  int timeout = 600;

  bool operator==(const RelayRequest&) const = default;
};

// One line per destination that `fleet-builder relay` prints as each transfer ends.
struct RelayOutcome {
  std::string to;
  bool ok = false;
  bool had = false;       // the destination already held the source: nothing was sent
  std::string base;       // the delta's base; empty: the whole .tar.zst
  std::uint64_t bytes = 0;  // payload bytes sent
  double seconds = 0;
  std::string error;

  bool operator==(const RelayOutcome&) const = default;
};

nlohmann::json to_json(const RelayRequest& request);
// Throws fleet::ProtocolError naming the field: unsafe host or user, port out of range, a
// multi-line host key, more than k_max_relay_destinations destinations.
RelayRequest parse_relay_request(const nlohmann::json& json);

std::string to_line(const RelayOutcome& outcome);
// Throws fleet::ProtocolError for anything but an outcome line.
RelayOutcome parse_relay_outcome(std::string_view line);

inline constexpr std::size_t k_max_relay_destinations = 64;

}  // namespace fleet::transfer
