// SPDX-License-Identifier: MIT
#include "coordinator/report/run_history.hpp"

#include "coordinator/view/display_text.hpp"
#include "uploader/base/error.hpp"
#include "uploader/base/file_io.hpp"
#include "uploader/protocol/json_document.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <set>

namespace fleet::coordinator {
namespace {

namespace fs = std::filesystem;

constexpr const char* k_time_format = "%Y-%m-%d %H:%M:%S";

std::map<std::string, int> counts(const RunReport& report) {
  std::map<std::string, int> result;
  for (const auto& [name, outcome] : report.nodes) {
    ++result[outcome.result];
  }
  return result;
}

std::set<std::string> node_names(const RunReport& report) {
  std::set<std::string> names;
  for (const auto& [name, outcome] : report.nodes) {
    names.insert(name);
  }
  return names;
}

bool is_success(const RunReport& report) { return report.skipped_reason.empty() && report.exit_code() == 0; }

}  // namespace

std::vector<HistoryEntry> load_history(const fs::path& dir, std::vector<std::string>* problems) {
  std::vector<HistoryEntry> history;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return history;
  }
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto& path = entry.path();
    // Temporary files of an atomic write in progress end in .tmp-XXXXXX, not .json.
    if (path.extension() != ".json" || !entry.is_regular_file(ec)) {
      continue;
    }
    try {
      auto json = protocol::parse_json(read_whole_file(path).value_or(""));
      if (json.is_discarded()) {
        throw Error("not valid JSON");
      }
      history.push_back({path, report_from_json(json)});
    } catch (const std::exception& e) {
      // A damaged or foreign file is data, not a bug, whatever nlohmann throws for it: it is
      // skipped and named, and the rest of the history still loads.
      if (problems != nullptr) {
        problems->push_back(path.string() + ": " + e.what());
      }
    }
  }
  std::sort(history.begin(), history.end(), [](const HistoryEntry& a, const HistoryEntry& b) {
    return a.report.started != b.report.started ? a.report.started < b.report.started : a.report.run_id < b.report.run_id;
  });
  return history;
}

fs::path run_logs_dir(const fs::path& dir, const std::string& run_id) { return dir / run_id; }

std::optional<RunReport> last_successful_run(const std::vector<HistoryEntry>& history, const RunReport& like) {
  auto wanted = node_names(like);
  for (auto it = history.rbegin(); it != history.rend(); ++it) {
    const RunReport& report = it->report;
    if (report.run_id != like.run_id && is_success(report) && report.config_file == like.config_file &&
        report.action == like.action && node_names(report) == wanted) {
      return report;
    }
  }
  return std::nullopt;
}

std::vector<std::string> prune_history(const fs::path& dir, int keep, int max_age_days, double now,
                                       const std::string& current_run) {
  auto history = load_history(dir);
  std::string newest_success;
  for (const auto& entry : history) {
    if (is_success(entry.report)) {
      newest_success = entry.report.run_id;
    }
  }
  std::vector<std::string> removed;
  double oldest_allowed = now - static_cast<double>(max_age_days) * 86400;
  std::size_t count = history.size();
  for (std::size_t i = 0; i < history.size(); ++i) {
    const RunReport& report = history[i].report;
    bool too_many = count - i > static_cast<std::size_t>(std::max(keep, 1));
    bool too_old = report.started < oldest_allowed;
    if ((!too_many && !too_old) || report.run_id == current_run || report.run_id == newest_success) {
      continue;
    }
    std::error_code ec;
    fs::remove(history[i].path, ec);
    // The log directory is named after the run id; a report whose id is not a plain name
    // (hand-edited) keeps whatever lies beside it.
    if (!report.run_id.empty() && report.run_id.find('/') == std::string::npos && report.run_id.front() != '.') {
      fs::remove_all(run_logs_dir(dir, report.run_id), ec);
    }
    removed.push_back(report.run_id);
  }
  return removed;
}

HistoryEntry find_run(const std::vector<HistoryEntry>& history, const std::string& which) {
  if (history.empty()) {
    throw ConfigError("no runs recorded yet under " + runs_dir().string() + "; run fleet sync-and-build first");
  }
  if (which.empty()) {
    return history.back();
  }
  std::vector<const HistoryEntry*> matches;
  for (const auto& entry : history) {
    if (entry.report.run_id == which) {
      return entry;
    }
    if (entry.report.run_id.rfind(which, 0) == 0) {
      matches.push_back(&entry);
    }
  }
  if (matches.size() == 1) {
    return *matches.front();
  }
  std::string listed;
  std::size_t shown = 0;
  for (auto it = history.rbegin(); it != history.rend() && shown < 5; ++it, ++shown) {
    listed += (listed.empty() ? "" : ", ") + it->report.run_id;
  }
  if (matches.empty()) {
    throw ConfigError("no run '" + which + "' in " + runs_dir().string() + "; the newest are " + listed +
                      " (see fleet runs)");
  }
  throw ConfigError("'" + which + "' matches " + std::to_string(matches.size()) +
                    " runs; give more of the id (see fleet runs)");
}

std::string format_run_list(const std::vector<HistoryEntry>& history) {
  if (history.empty()) {
    return "no runs recorded yet\n";
  }
  std::string text;
  char line[512];
  std::snprintf(line, sizeof line, "%-22s  %-19s  %-12s  %4s  %6s  %11s  %7s  %8s  %4s\n", "RUN", "STARTED (UTC)", "SOURCE",
                "OK", "FAILED", "ROLLED-BACK", "SKIPPED", "DURATION", "EXIT");
  text += line;
  for (const auto& entry : history) {
    const RunReport& r = entry.report;
    auto c = counts(r);
    std::snprintf(line, sizeof line, "%-22s  %-19s  %-12s  %4d  %6d  %11d  %7d  %8s  %4d%s\n",
                  printable(r.run_id).c_str(), format_utc(r.started, k_time_format).c_str(), printable(r.source_hash.substr(0, 12)).c_str(),
                  c["ok"], c["failed"], c["rolled-back"], c["skipped"], format_seconds(r.finished - r.started).c_str(),
                  r.exit_code(), r.skipped_reason.empty() ? "" : "  skipped: unchanged");
    text += line;
  }
  return text;
}

nlohmann::json run_list_json(const std::vector<HistoryEntry>& history) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& entry : history) {
    const RunReport& r = entry.report;
    auto c = counts(r);
    nlohmann::json item = {{"run", r.run_id},
                           {"startedAt", format_utc(r.started, k_iso8601_utc)},
                           {"started", r.started},
                           {"source", r.source_hash},
                           {"action", r.action},
                           {"configFile", r.config_file},
                           {"ok", c["ok"]},
                           {"failed", c["failed"]},
                           {"rolledBack", c["rolled-back"]},
                           {"skipped", c["skipped"]},
                           {"durationSeconds", std::max(0.0, r.finished - r.started)},
                           {"exitCode", r.exit_code()},
                           {"report", entry.path.string()}};
    if (!r.skipped_reason.empty()) {
      item["skippedReason"] = r.skipped_reason;
    }
    list.push_back(std::move(item));
  }
  return list;
}

std::string format_run_details(const RunReport& report, const fs::path& logs_dir) {
  std::string text = "run " + printable(report.run_id) + "  started " + format_utc(report.started, k_time_format) + " UTC  took " +
                     format_seconds(report.finished - report.started) + "  exit " + std::to_string(report.exit_code()) +
                     "\n";
  text += "source " + printable(report.source_hash.substr(0, 12)) + "  action " + printable(report.action) + "  config " +
          printable(report.config_file) + "\n";
  if (!report.skipped_reason.empty()) {
    text += "skipped: " + printable(report.skipped_reason) + "\n";
  }
  if (!report.notify_error.empty()) {
    text += "notify failed: " + printable(report.notify_error) + "\n";
  }
  if (!report.flake_lock.empty()) {
    text += "inputs updated: the new flake.lock is in the report's \"flakeLock\" field\n";
    for (const auto& change : report.input_changes) {
      text += "  " + printable(change) + "\n";
    }
  }
  for (const auto& [name, outcome] : report.nodes) {
    text += "\n" + printable(name) + "  " + printable(outcome.result);
    if (!outcome.built_on.empty()) {
      text += "  built on " + printable(outcome.built_on);
    }
    if (!outcome.phases.empty()) {
      text += "  " + format_seconds(outcome.seconds());
    }
    text += "\n";
    if (!outcome.store_path.empty()) {
      text += "  system   " + printable(outcome.store_path) + "\n";
    }
    if (!outcome.previous_path.empty() && outcome.previous_path != outcome.store_path) {
      text += "  replaced " + printable(outcome.previous_path) + "\n";
    }
    for (const auto& phase : outcome.phases) {
      char line[160];
      std::snprintf(line, sizeof line, "  %-9s %8s  %s\n", printable(phase.phase).c_str(),
                    format_seconds(phase.seconds).c_str(), printable(phase.status).c_str());
      text += line;
    }
    if (!outcome.closure_diff.empty()) {
      text += "  changes:\n";
      for (const auto& line : printable_lines(outcome.closure_diff)) {
        text += "    " + line + "\n";
      }
    }
    if (outcome.result != protocol::to_string(protocol::NodeResult::ok) && !outcome.error.empty()) {
      text += "  error:\n";
      for (const auto& line : printable_lines(outcome.error)) {
        text += "    " + line + "\n";
      }
      if (!outcome.log_tail.empty()) {
        text += "  last log lines:\n";
        for (const auto& line : outcome.log_tail) {
          text += "    " + printable(line) + "\n";
        }
      }
    }
    std::error_code ec;
    auto log = logs_dir / (name + ".log");
    if (outcome.result != protocol::to_string(protocol::NodeResult::ok) && fs::is_regular_file(log, ec)) {
      text += "  full log: " + log.string() + "\n";
    }
  }
  return text;
}

}  // namespace fleet::coordinator
