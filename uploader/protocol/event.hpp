// SPDX-License-Identifier: MIT
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace fleet::protocol {

// The stages a node goes through. `probe` (is the host reachable, with the right host key?)
// and `secrets` join upload, unpack, eval, build, copy, activate, check and rollback.
enum class Phase { upload, unpack, probe, eval, build, copy, secrets, activate, check, rollback };
enum class Status { start, progress, ok, fail };

std::string_view to_string(Phase phase);
std::string_view to_string(Status status);
std::optional<Phase> parse_phase(std::string_view text);
std::optional<Status> parse_status(std::string_view text);

// One JSON-lines event: {"ts":…, "node":…, "phase":…, "status":…, "msg":…} plus optional
// extra fields (for example "storePath" on a successful build).
struct Event {
  double ts = 0;          // seconds since the Unix epoch
  std::string node;       // the target node this event is about
  Phase phase = Phase::build;
  Status status = Status::progress;
  std::string msg;
  nlohmann::json extra = nlohmann::json::object();  // more fields, merged into the object

  bool operator==(const Event&) const = default;
};

// Longest event line the coordinator accepts; anything longer is a protocol error.
inline constexpr std::size_t k_max_event_line = 64 * 1024;

// Serialises an event as one line of JSON without the trailing newline, at most
// k_max_event_line bytes: from a longer one, extra fields over 1 KiB are dropped and the middle
// of `msg` is cut (its head and its tail, which says how a log ended, are kept, with how much
// was cut between them).
std::string to_json_line(const Event& event);

// Parses one line from an agent. Throws ProtocolError naming what is wrong and quoting (a
// bounded prefix of) the line when it is not a valid event.
Event parse_event_line(std::string_view line);

// Seconds since the epoch, with sub-second precision, for Event::ts.
double now_seconds();

}  // namespace fleet::protocol
