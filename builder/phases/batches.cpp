// SPDX-License-Identifier: MIT
#include "builder/phases/batches.hpp"

#include <fstream>
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

}  // namespace fleet::builder
