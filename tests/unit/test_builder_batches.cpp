// SPDX-License-Identifier: MIT
#include "builder/phases/batches.hpp"

#include "support/temp_dir.hpp"
#include "support/tree.hpp"

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

TEST_CASE("a cgroup's CPU quota bounds the CPUs, the smallest on the way up counting") {
  fleet::test::TempDir dir;
  const auto root = dir.path() / "cgroup";
  const auto self = dir.path() / "self-cgroup";

  SECTION("v1: cpu.cfs_quota_us over cpu.cfs_period_us, of the cgroup or a parent") {
    fleet::test::write_file(self, "4:memory:/other\n2:cpu,cpuacct:/lab/b1\n0::/\n");
    fleet::test::write_file(root / "cpu,cpuacct/lab/b1/cpu.cfs_quota_us", "-1\n");
    fleet::test::write_file(root / "cpu,cpuacct/lab/b1/cpu.cfs_period_us", "100000\n");
    fleet::test::write_file(root / "cpu,cpuacct/lab/cpu.cfs_quota_us", "150000\n");
    fleet::test::write_file(root / "cpu,cpuacct/lab/cpu.cfs_period_us", "100000\n");
    CHECK(cgroup_cpu_limit(self, root) == 1.5);
    fleet::test::write_file(root / "cpu,cpuacct/lab/b1/cpu.cfs_quota_us", "50000\n");
    CHECK(cgroup_cpu_limit(self, root) == 0.5);
  }
  SECTION("v2: cpu.max") {
    fleet::test::write_file(self, "0::/fleet/b2\n");
    fleet::test::write_file(root / "cgroup.controllers", "cpu memory\n");
    fleet::test::write_file(root / "fleet/b2/cpu.max", "max 100000\n");
    CHECK_FALSE(cgroup_cpu_limit(self, root).has_value());
    fleet::test::write_file(root / "fleet/cpu.max", "200000 100000\n");
    CHECK(cgroup_cpu_limit(self, root) == 2.0);
  }
  SECTION("no quota, no cgroup file, or a line that is not the kernel's") {
    fleet::test::write_file(self, "1:cpu:/\n");
    CHECK_FALSE(cgroup_cpu_limit(self, root).has_value());
    CHECK_FALSE(cgroup_cpu_limit(dir.path() / "missing", root).has_value());
    fleet::test::write_file(self, "garbage\n1:cpu:/../../etc\n");
    CHECK_FALSE(cgroup_cpu_limit(self, root).has_value());
  }
  CHECK(usable_cpus() >= 1);
}
