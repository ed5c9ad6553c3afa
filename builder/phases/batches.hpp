// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

namespace fleet::builder {

// MemAvailable from a /proc/meminfo-style file, in MiB; nullopt when it cannot be read or has no
// such line (old kernels, non-Linux hosts). The agent sizes its evaluation batches from it with
// protocol::eval_batch_sizes, the function `fleet plan` uses to predict them.
std::optional<std::uint64_t> read_mem_available_mb(const std::filesystem::path& meminfo = "/proc/meminfo");

// The CPU time a cgroup quota allows this process, in CPUs (1.5: 150 ms per 100 ms), from its
// /proc/self/cgroup-style file and the cgroup filesystem's root: the smallest quota of its cgroup
// and their parents, v2 (cpu.max) or v1 (cpu.cfs_quota_us / cpu.cfs_period_us). nullopt without
// a quota, or when it cannot be read.
std::optional<double> cgroup_cpu_limit(const std::filesystem::path& proc_cgroup = "/proc/self/cgroup",
                                       const std::filesystem::path& cgroup_root = "/sys/fs/cgroup");

// The CPUs this process may use, at least 1: its affinity mask, bounded by its cgroup's quota
// (rounded up), as a container or a limited VM slice has. The most evaluators worth running.
std::size_t usable_cpus();

}  // namespace fleet::builder
