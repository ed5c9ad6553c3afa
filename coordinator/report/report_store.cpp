// SPDX-License-Identifier: MIT
// Where reports live and how they are written: the run_report.hpp functions that touch the
// filesystem.
#include "coordinator/report/run_report.hpp"

#include "uploader/base/error.hpp"
#include "uploader/base/file_io.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>

#include <sys/stat.h>

namespace fleet::coordinator {
namespace {

namespace fs = std::filesystem;

std::string errno_text() { return std::strerror(errno); }

// Creates the missing directories of `dir` one by one, each 0700: run reports may quote build
// logs, which are nobody else's business.
void create_private_dirs(const fs::path& dir) {
  fs::path partial;
  for (const auto& part : dir) {
    partial /= part;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      throw Error("cannot create directory " + partial.string() + ": " + errno_text());
    }
  }
  if (!fs::is_directory(dir)) {
    throw Error("cannot store run reports in " + dir.string() + ": it exists and is not a directory");
  }
}

// A crash leaves the old report or the new one, never half of one, and the directory is not
// created here: the runs directory is made private above, an extra path is the user's choice.
void write_report_file(const fs::path& path, const std::string& content, mode_t mode) {
  write_file_atomically(path, content,
                        {.mode = mode,
                         .permissions = Permissions::exact,
                         .owner = std::nullopt,
                         .durability = Durability::file,
                         .missing_directories = MissingDirectories::fail});
}

// A run id becomes a file name, and `fleet report RUN` reads it back: refuse anything that
// could leave the runs directory.
void check_run_id(const std::string& run_id) {
  bool plain = !run_id.empty() && run_id.size() <= 100 && run_id.front() != '.';
  for (char c : run_id) {
    bool allowed = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
                   c == '_' || c == '.';
    plain = plain && allowed;
  }
  if (!plain) {
    throw Error("run id '" + run_id + "' cannot be a report file name: use letters, digits, '-', '_' and '.'");
  }
}

}  // namespace

std::string new_run_id(double now) {
  std::time_t seconds = static_cast<std::time_t>(now);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  std::random_device random;
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "-%04x", static_cast<unsigned>(random() & 0xffffU));
  return std::string(stamp) + suffix;
}

fs::path runs_dir() {
  // The XDG spec says relative values are invalid and must be ignored.
  const char* state = std::getenv("XDG_STATE_HOME");
  if (state != nullptr && state[0] == '/') {
    return fs::path(state) / "fleet" / "runs";
  }
  const char* home = std::getenv("HOME");
  if (home == nullptr || home[0] != '/') {
    throw Error("cannot find where to keep run reports: set HOME or XDG_STATE_HOME to an absolute path");
  }
  return fs::path(home) / ".local" / "state" / "fleet" / "runs";
}

fs::path save_report(const RunReport& report, const fs::path& extra_path) {
  check_run_id(report.run_id);
  std::string content = to_json(report).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  fs::path dir = runs_dir();
  create_private_dirs(dir);
  fs::path path = dir / (report.run_id + ".json");
  write_report_file(path, content, 0600);
  if (!extra_path.empty()) {
    write_report_file(extra_path, content, 0644);
  }
  return path;
}

}  // namespace fleet::coordinator
