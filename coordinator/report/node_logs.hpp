// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/protocol/event.hpp"

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

namespace fleet::coordinator {

// Each node's full log of one run, kept beside its report: <dir>/<node>.log, one line per event
// line ("2026-11-21T23:00:01.250Z build progress <text>"; a multi-line message gives one line
// each). Files are created 0600 (the directory 0700) on a node's first event and flushed per
// line, so a run that dies still leaves its logs. Write failures are reported once, by
// `problem()`, and never stop a run.
class NodeLogs {
public:
  explicit NodeLogs(std::filesystem::path dir);

  // Appends the event to its node's log. Node names come from fleet.json (checked names), but
  // any name that is not a plain file name is written to "_other.log" instead.
  void on_event(const protocol::Event& event);

  // The first write failure, or empty.
  const std::string& problem() const { return m_problem; }
  const std::filesystem::path& dir() const { return m_dir; }

private:
  struct FileClose {
    void operator()(std::FILE* file) const noexcept { std::fclose(file); }
  };
  std::FILE* file_for(const std::string& node);

  std::filesystem::path m_dir;
  std::map<std::string, std::unique_ptr<std::FILE, FileClose>> m_files;
  std::string m_problem;
};

// "2026-11-21T23:00:01.250Z": an event time as the logs write it.
std::string log_timestamp(double ts);

}  // namespace fleet::coordinator
