// SPDX-License-Identifier: MIT
#include "uploader/base/process_usage.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <unistd.h>

namespace fleet {

std::optional<ProcessUsage> usage_so_far(int pid) {
  const std::string dir = "/proc/" + std::to_string(pid);
  std::ifstream stat_file(dir + "/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may hold anything: state is the
  // first of them (field 3), utime and stime fields 14 and 15.
  const auto name_end = stat.rfind(')');
  if (name_end == std::string::npos) {
    return std::nullopt;
  }
  std::istringstream fields(stat.substr(name_end + 1));
  std::string field;
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  for (int number = 3; number <= 13 && fields >> field; ++number) {
  }
  if (!(fields >> utime >> stime)) {
    return std::nullopt;
  }
  ProcessUsage usage;
  usage.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::ifstream status(dir + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) {
      usage.peak_rss_kib = std::strtoull(line.c_str() + 6, nullptr, 10);
      return usage;
    }
  }
  return std::nullopt;  // an exited process keeps no memory figures, even before it is reaped
}

}  // namespace fleet
