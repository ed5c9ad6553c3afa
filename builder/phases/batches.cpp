// SPDX-License-Identifier: MIT
#include "builder/phases/batches.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
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

namespace {

std::optional<std::string> first_line(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line;
  if (!std::getline(in, line)) {
    return std::nullopt;
  }
  return line;
}

// The quota of one cgroup directory, in CPUs; nullopt when it has none ("max", -1) or no file.
std::optional<double> quota_of(const std::filesystem::path& dir, bool v2) {
  double quota = 0;
  double period = 0;
  if (v2) {
    auto line = first_line(dir / "cpu.max");
    std::istringstream fields(line.value_or(""));
    std::string max;
    if (!(fields >> max >> period) || max == "max") {
      return std::nullopt;
    }
    quota = std::strtod(max.c_str(), nullptr);
  } else {
    auto q = first_line(dir / "cpu.cfs_quota_us");
    auto p = first_line(dir / "cpu.cfs_period_us");
    if (!q || !p) {
      return std::nullopt;
    }
    quota = std::strtod(q->c_str(), nullptr);
    period = std::strtod(p->c_str(), nullptr);
  }
  if (quota <= 0 || period <= 0) {
    return std::nullopt;
  }
  return quota / period;
}

}  // namespace

std::optional<double> cgroup_cpu_limit(const std::filesystem::path& proc_cgroup, const std::filesystem::path& cgroup_root) {
  std::ifstream in(proc_cgroup);
  std::string line;
  std::optional<double> limit;
  while (std::getline(in, line)) {
    // "hierarchy:controllers:path": v2 is "0::/path"; v1 lists its controllers, "cpu" among them.
    auto first = line.find(':');
    auto second = first == std::string::npos ? std::string::npos : line.find(':', first + 1);
    if (second == std::string::npos) {
      continue;
    }
    const std::string controllers = line.substr(first + 1, second - first - 1);
    std::filesystem::path path = std::filesystem::path(line.substr(second + 1)).relative_path();
    std::filesystem::path mount;
    bool v2 = controllers.empty();
    if (v2) {
      mount = std::filesystem::exists(cgroup_root / "cgroup.controllers") ? cgroup_root : cgroup_root / "unified";
    } else {
      std::istringstream names(controllers);
      std::string name;
      bool cpu = false;
      while (std::getline(names, name, ',')) {
        cpu = cpu || name == "cpu";
      }
      if (!cpu) {
        continue;
      }
      mount = std::filesystem::exists(cgroup_root / controllers) ? cgroup_root / controllers : cgroup_root / "cpu";
    }
    if (path.string().find("..") != std::string::npos) {
      continue;  // not a path the kernel writes
    }
    for (auto dir = mount / path;; dir = dir.parent_path()) {
      if (auto quota = quota_of(dir, v2); quota && (!limit || *quota < *limit)) {
        limit = quota;
      }
      if (dir == mount || !dir.has_parent_path() || dir.parent_path() == dir) {
        break;
      }
    }
  }
  return limit;
}

std::size_t usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::size_t cpus = ::sched_getaffinity(0, sizeof set, &set) == 0 ? static_cast<std::size_t>(std::max(1, CPU_COUNT(&set))) : 1;
  if (auto limit = cgroup_cpu_limit()) {
    cpus = std::min(cpus, static_cast<std::size_t>(std::ceil(*limit)));  // a quota is > 0: at least 1
  }
  return cpus;
}

}  // namespace fleet::builder
