// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace fleet::protocol {

// The sizes of the consecutive evaluation batches the agent splits `targets` targets into, in
// job order. One batch takes at most memory_mb / eval_memory_mb targets (at least 1), and the
// batches are as few as fit and as even as possible (7 by 3 gives 3, 2, 2) so that no batch is a
// lone straggler. Without `memory_mb` (or with eval_memory_mb <= 0) every target goes into one
// batch. The agent passes its MemAvailable; `fleet plan` a builder's memoryMB, to predict it.
std::vector<std::size_t> eval_batch_sizes(std::size_t targets, std::optional<std::uint64_t> memory_mb,
                                          int eval_memory_mb);

// How one batch's `targets` are shared among the evaluator processes that run at once: one group
// each, min(targets, workers) groups (at least one), as even as possible, in job order. A process
// evaluates what its targets share (nixpkgs) once, and a group is built and delivered as soon as
// its evaluation ends, while the other groups still evaluate.
std::vector<std::size_t> eval_worker_sizes(std::size_t targets, std::size_t workers);

}  // namespace fleet::protocol
