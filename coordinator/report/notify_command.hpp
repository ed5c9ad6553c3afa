// SPDX-License-Identifier: MIT
#pragma once

#include <filesystem>
#include <string>

namespace fleet::coordinator {

// --notify CMD: runs CMD through /bin/sh with `summary` on stdin and FLEET_RUN_ID,
// FLEET_EXIT_CODE and FLEET_REPORT (the report's path) in its environment, killing it after
// `timeout_seconds`. Returns an empty string when it succeeded, otherwise why it failed (its exit
// status and last stderr lines). Never throws: a failed notification must not change a run's
// outcome.
std::string run_notify(const std::string& command, const std::string& summary, const std::string& run_id,
                       int exit_code, const std::filesystem::path& report_path, int timeout_seconds = 300);

}  // namespace fleet::coordinator
