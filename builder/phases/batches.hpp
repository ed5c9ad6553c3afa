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

// The CPUs this process may run on (its affinity mask), at least 1: the most evaluator
// processes worth running at once.
std::size_t usable_cpus();

}  // namespace fleet::builder
