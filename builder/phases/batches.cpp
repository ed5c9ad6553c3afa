// SPDX-License-Identifier: MIT
#include "builder/phases/batches.hpp"

#include <algorithm>
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

std::size_t batch_capacity(std::optional<std::uint64_t> mem_available_mb, int eval_memory_mb, std::size_t targets) {
  if (!mem_available_mb || eval_memory_mb <= 0) {
    return std::max<std::size_t>(1, targets);
  }
  return std::max<std::size_t>(1, static_cast<std::size_t>(*mem_available_mb / static_cast<std::uint64_t>(eval_memory_mb)));
}

std::vector<std::size_t> batch_sizes(std::size_t targets, std::size_t capacity) {
  std::vector<std::size_t> sizes;
  if (targets == 0) {
    return sizes;
  }
  capacity = std::max<std::size_t>(1, capacity);
  const std::size_t count = (targets + capacity - 1) / capacity;
  for (std::size_t i = 0; i < count; ++i) {
    sizes.push_back(targets / count + (i < targets % count ? 1 : 0));
  }
  return sizes;
}

}  // namespace fleet::builder
