// SPDX-License-Identifier: MIT
#include "builder/phases/batches.hpp"

#include <algorithm>
#include <fstream>
#include <sched.h>
#include <sstream>
#include <string>

namespace fleet::builder {

std::optional<std::uint64_t> read_mem_available_mb(const std::filesystem::path& meminfo) {
  std::ifstream in(meminfo);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) {
      continue;
    }
    std::istringstream fields(line.substr(13));
    std::uint64_t kib = 0;
    std::string unit;
    if (fields >> kib >> unit && unit == "kB") {
      return kib / 1024;
    }
    return std::nullopt;
  }
  return std::nullopt;
}

std::size_t usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) {
    return 1;
  }
  return static_cast<std::size_t>(std::max(1, CPU_COUNT(&set)));
}

}  // namespace fleet::builder
