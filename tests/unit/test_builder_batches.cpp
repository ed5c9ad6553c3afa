// SPDX-License-Identifier: MIT
#include "builder/phases/batches.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <unistd.h>

using namespace fleet::builder;

TEST_CASE("MemAvailable is read from meminfo in MiB") {
  auto file = std::filesystem::temp_directory_path() / ("fleet-meminfo-" + std::to_string(getpid()));
  {
    std::ofstream out(file);
    out << "MemTotal:       16318060 kB\nMemFree:         1000000 kB\nMemAvailable:    8388608 kB\n";
  }
  CHECK(read_mem_available_mb(file) == 8192u);
  {
    std::ofstream out(file);
    out << "MemTotal:       16318060 kB\n";
  }
  CHECK_FALSE(read_mem_available_mb(file).has_value());
  std::filesystem::remove(file);
  CHECK_FALSE(read_mem_available_mb(file).has_value());
  CHECK(read_mem_available_mb().has_value());  // this machine's /proc/meminfo
}
