// SPDX-License-Identifier: MIT
#include "builder/phases/batches.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <unistd.h>

using namespace fleet::builder;
using Sizes = std::vector<std::size_t>;

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

TEST_CASE("batches fit MemAvailable / evalMemoryMB and are even") {
  CHECK(batch_capacity(8192, 1024, 20) == 8);
  CHECK(batch_capacity(500, 1024, 20) == 1);  // never zero
  CHECK(batch_capacity(std::nullopt, 1024, 20) == 20);
  CHECK(batch_sizes(20, 8) == Sizes{7, 7, 6});
  CHECK(batch_sizes(7, 3) == Sizes{3, 2, 2});
  CHECK(batch_sizes(4, 8) == Sizes{4});
  CHECK(batch_sizes(3, 1) == Sizes{1, 1, 1});
  CHECK(batch_sizes(0, 4).empty());
  CHECK(batch_sizes(5, 0) == Sizes{1, 1, 1, 1, 1});
}
