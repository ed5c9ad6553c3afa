// SPDX-License-Identifier: MIT
#include "coordinator/commands/commands.hpp"
#include "coordinator/report/run_history.hpp"

#include <iostream>

namespace fleet::coordinator {
namespace {

void warn(const std::vector<std::string>& problems) {
  for (const auto& problem : problems) {
    std::cerr << "fleet: warning: skipped " << problem << '\n';
  }
}

}  // namespace

int run_runs_command(const HistoryOptions& options) {
  std::vector<std::string> problems;
  auto history = load_history(runs_dir(), &problems);
  warn(problems);
  if (options.json) {
    std::cout << run_list_json(history).dump(2) << '\n';
  } else {
    std::cout << format_run_list(history);
  }
  return 0;
}

int run_report_command(const HistoryOptions& options) {
  std::vector<std::string> problems;
  auto dir = runs_dir();
  auto history = load_history(dir, &problems);
  warn(problems);
  auto entry = find_run(history, options.run);
  if (options.json) {
    auto json = to_json(entry.report);
    json["reportFile"] = entry.path.string();
    json["logsDir"] = run_logs_dir(dir, entry.report.run_id).string();
    std::cout << json.dump(2) << '\n';
  } else {
    std::cout << format_run_details(entry.report, run_logs_dir(dir, entry.report.run_id));
    std::cout << "\nreport: " << entry.path.string() << '\n';
  }
  return 0;
}

}  // namespace fleet::coordinator
