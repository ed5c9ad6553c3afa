// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/protocol/node_result.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fleet::coordinator {

// How many of a node's last log lines a report keeps.
inline constexpr std::size_t k_log_tail_lines = 30;

// How long one phase of one node took, and how it ended ("ok" or "fail").
struct PhaseTiming {
  std::string phase;
  double seconds = 0;
  std::string status;

  bool operator==(const PhaseTiming&) const = default;
};

// A node moved to another build location during a run, and why (its builder was unreachable
// or died).
struct NodeMove {
  std::string from;
  std::string to;
  std::string reason;

  bool operator==(const NodeMove&) const = default;
};

// What evaluating a node's toplevel cost on its builder: the nix process that evaluated it (with
// `targets` toplevels in all, so its figures are shared by those nodes) used this CPU time and
// reached this resident set at its largest.
struct EvalUsage {
  double cpu_seconds = 0;
  std::uint64_t peak_mib = 0;
  std::uint64_t targets = 0;

  bool operator==(const EvalUsage&) const = default;
};

// What happened to one node in a run.
struct NodeOutcome {
  // protocol::NodeResult's words (ok | failed | rolled-back | skipped); kept as text so that a
  // report written by a newer fleet, with a result this one does not know, still reads.
  std::string result{protocol::to_string(protocol::NodeResult::skipped)};
  std::string built_on;                // a builder's name or "self"; empty when never assigned
  std::string store_path;              // the toplevel that was built, when known
  std::vector<PhaseTiming> phases;     // in the order they ended
  std::string error;                   // first line says what failed; empty when ok
  std::vector<std::string> log_tail;   // at most k_log_tail_lines of the node's log
  std::vector<NodeMove> moves;         // in order; built_on is where the last one went
  std::string previous_path;           // the system it replaced (switch/boot), when known
  std::string closure_diff;            // `nix store diff-closures previous new`, when known
  std::optional<EvalUsage> evaluation; // when its builder measured it

  // Sum of the phase durations: the time this node kept something busy.
  double seconds() const;

  bool operator==(const NodeOutcome&) const = default;
};

// The sender of the transfers that leave the coordinator's own machine.
inline constexpr const char* k_laptop = "laptop";

// One transfer of the source to a build location, from the laptop or relayed by a node that
// already held it; `skipped` when the receiver already had it, `base` the tar a delta was made
// against (empty: the whole .tar.zst), `note` why this source was used when it was a fallback.
struct TransferRecord {
  std::string from;
  std::string to;
  std::uint64_t bytes = 0;
  bool skipped = false;
  std::string base{};
  std::string note{};

  bool operator==(const TransferRecord&) const = default;
};

// The outcome of one run, as written to $XDG_STATE_HOME/fleet/runs/<run>.json.
struct RunReport {
  std::string run_id;
  std::string source_hash;
  std::string action;
  std::string config_file;
  double started = 0;   // seconds since the epoch
  double finished = 0;  // seconds since the epoch
  std::map<std::string, NodeOutcome> nodes;
  std::vector<TransferRecord> transfers;
  std::string skipped_reason;  // non-empty: the run was skipped on purpose (--skip-unchanged)
  std::string flake_lock;      // the flake.lock this run built with, when --update-inputs made it
  std::vector<std::string> input_changes;  // what --update-inputs moved, one line per input
  std::string notify_error;    // why the --notify command failed, when it did

  // Bytes the laptop sent: the sum of the bytes of the transfers from "laptop".
  std::uint64_t uploaded_bytes() const;
  // 0 when every node ended "ok" or the whole run was skipped on purpose, 1 otherwise:
  // "rolled-back" and "skipped" nodes count as failures. Exit codes 2 and 3 are decided before a
  // run starts.
  int exit_code() const;

  bool operator==(const RunReport&) const = default;
};

// The report shape the README documents: "run", "source", "action", "configFile", "started",
// "finished", "durationSeconds", "transfers", "uploadedBytes", "exitCode", and per node
// "result", "builtOn", "storePath", "phases", "error", "logTail", for a node that moved "moves":
// [{"from", "to", "reason"}]; when set, "skipped" (the reason), "flakeLock", "inputChanges",
// "notifyError", and per node "previousPath", "closureDiff" and "evaluation": {"cpuSeconds",
// "peakMiB", "targets"}.
// Durations are rounded to milliseconds.
nlohmann::json to_json(const RunReport& report);

// Reads a report written by to_json (or by a newer fleet: unknown fields are ignored).
// Throws fleet::Error naming the field when a known field has the wrong type.
RunReport report_from_json(const nlohmann::json& json);

// A new run id such as "20261121T230000Z-1a2b": UTC start time (so ids sort by time) and 16
// random bits so that two runs started in the same second do not collide.
std::string new_run_id(double now);

// $XDG_STATE_HOME/fleet/runs when XDG_STATE_HOME is an absolute path, otherwise
// ~/.local/state/fleet/runs. Throws fleet::Error when neither it nor HOME is set.
std::filesystem::path runs_dir();

// Writes <runs_dir>/<run_id>.json atomically (temporary file, fsync, rename; missing
// directories are created 0700, the file is 0600) and, when extra_path is non-empty, the same
// JSON atomically to extra_path (0644; its directory must exist). Returns the path written
// under runs_dir. Throws fleet::Error naming the path on any failure, and when run_id is not a
// plain file name.
std::filesystem::path save_report(const RunReport& report, const std::filesystem::path& extra_path = {});

// The human summary printed at the end of a run: one line per node, then a "FAILED:" block per
// failed or rolled-back node with its error and log tail, then a totals line. `report_path`,
// when non-empty, is named in the totals line.
std::string format_summary(const RunReport& report, const std::filesystem::path& report_path = {});

// "512 B", "3.4 KiB", "1.2 MiB", "2.0 GiB".
std::string format_bytes(std::uint64_t bytes);

// `ts` (seconds since the epoch) in UTC, formatted by strftime's `format`.
std::string format_utc(double ts, const char* format);

// ISO 8601 in UTC ("2026-11-21T23:00:00Z"), the form of every timestamp fleet prints as JSON.
inline constexpr const char* k_iso8601_utc = "%Y-%m-%dT%H:%M:%SZ";

// "0.4s", "12.3s", "2m05s", "1h02m".
std::string format_seconds(double seconds);

}  // namespace fleet::coordinator
