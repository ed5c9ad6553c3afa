// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/report/run_report.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace fleet::coordinator {

// One stored run: its report and the file it was read from.
struct HistoryEntry {
  std::filesystem::path path;
  RunReport report;
};

// Every <run>.json in `dir` (runs_dir()), oldest first (by start time, then id). Files that are
// not readable reports are left out and described in `problems` when given. A missing
// directory is an empty history.
std::vector<HistoryEntry> load_history(const std::filesystem::path& dir, std::vector<std::string>* problems = nullptr);

// Where the per-node logs of `run_id` live: <dir>/<run_id>/.
std::filesystem::path run_logs_dir(const std::filesystem::path& dir, const std::string& run_id);

// The newest run that deployed (not skipped) with exit code 0 for the same fleet.json, action
// and set of nodes as `like`; std::nullopt when there is none.
std::optional<RunReport> last_successful_run(const std::vector<HistoryEntry>& history, const RunReport& like);

// Deletes the reports (and log directories) of runs beyond the newest `keep` or started more
// than `max_age_days` before `now`; never `current_run`, nor the newest successful deployment
// (which --skip-unchanged compares against). Returns the removed run ids. Failures to delete are
// ignored: pruning must never fail a run.
std::vector<std::string> prune_history(const std::filesystem::path& dir, int keep, int max_age_days, double now,
                                       const std::string& current_run);

// The run named `which` (an id or a unique prefix of one; empty: the newest). Throws ConfigError
// listing the closest ids when there is no such run or the prefix is ambiguous.
HistoryEntry find_run(const std::vector<HistoryEntry>& history, const std::string& which);

// `fleet runs`: one line per run, newest last: id, start time (UTC), source hash (12), counts of
// ok / failed / rolled-back / skipped nodes, duration, exit code, and "skipped" for skipped runs.
std::string format_run_list(const std::vector<HistoryEntry>& history);

// `fleet runs --json`: [{"run", "startedAt", "source", "action", "configFile", "ok", "failed",
// "rolledBack", "skipped", "durationSeconds", "exitCode", "skippedReason"?, "report"}], oldest first.
nlohmann::json run_list_json(const std::vector<HistoryEntry>& history);

// `fleet report`: the run's header, then per node its result, where it was built, each phase
// with its duration, the closure difference, and for a failure the error, the log tail and the
// path of its full log (under `logs_dir` when that file exists).
std::string format_run_details(const RunReport& report, const std::filesystem::path& logs_dir);

}  // namespace fleet::coordinator
