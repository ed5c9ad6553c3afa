// SPDX-License-Identifier: MIT
#include "coordinator/report/notify_command.hpp"

#include "uploader/base/error.hpp"
#include "uploader/base/process.hpp"

namespace fleet::coordinator {

std::string run_notify(const std::string& command, const std::string& summary, const std::string& run_id,
                       int exit_code, const std::filesystem::path& report_path, int timeout_seconds) {
  try {
    Command notify{{"/bin/sh", "-c", command},
                   {{"FLEET_RUN_ID", run_id}, {"FLEET_EXIT_CODE", std::to_string(exit_code)}, {"FLEET_REPORT", report_path.string()}},
                   summary.empty() ? "\n" : summary,
                   std::chrono::seconds{timeout_seconds}};
    auto result = run_process(notify, [](std::string_view) {});
    if (result.ok()) {
      return {};
    }
    std::string how = result.timed_out ? "was stopped after " + std::to_string(timeout_seconds) + " s"
                      : result.signal != 0 ? "was killed by signal " + std::to_string(result.signal)
                                           : "exited with " + std::to_string(result.exit_code);
    std::string tail = result.err_tail;
    while (!tail.empty() && tail.back() == '\n') {
      tail.pop_back();
    }
    return "the notify command " + how + (tail.empty() ? "" : ": " + tail);
  } catch (const std::exception& e) {
    // The notification is reported, never the run's outcome: nothing may escape from here.
    return "the notify command could not be started: " + describe_error(e);
  }
}

}  // namespace fleet::coordinator
