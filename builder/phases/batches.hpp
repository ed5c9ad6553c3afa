// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

namespace fleet::builder {

// MemAvailable from a /proc/meminfo-style file, in MiB; nullopt when it cannot be read or has no
// such line (old kernels, non-Linux hosts).
std::optional<std::uint64_t> read_mem_available_mb(const std::filesystem::path& meminfo = "/proc/meminfo");

// How many targets one nix evaluation may take: MemAvailable / evalMemoryMB, at least 1. Without
// MemAvailable every target goes into one batch, as before batches existed.
std::size_t batch_capacity(std::optional<std::uint64_t> mem_available_mb, int eval_memory_mb, std::size_t targets);

// The sizes of consecutive batches for `targets` targets, `capacity` at most each, as even as
// possible (7 by 3 gives 3, 2, 2) so that no batch is a lone straggler.
std::vector<std::size_t> batch_sizes(std::size_t targets, std::size_t capacity);

}  // namespace fleet::builder
