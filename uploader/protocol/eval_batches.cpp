// SPDX-License-Identifier: MIT
#include "uploader/protocol/eval_batches.hpp"

#include <algorithm>

namespace fleet::protocol {
namespace {

// `count` parts of `total`, the first ones one larger when it does not divide evenly.
std::vector<std::size_t> even_split(std::size_t total, std::size_t count) {
  std::vector<std::size_t> sizes;
  for (std::size_t i = 0; i < count; ++i) {
    sizes.push_back(total / count + (i < total % count ? 1 : 0));
  }
  return sizes;
}

}  // namespace

std::vector<std::size_t> eval_batch_sizes(std::size_t targets, std::optional<std::uint64_t> memory_mb,
                                          int eval_memory_mb) {
  if (targets == 0) {
    return {};
  }
  std::size_t capacity = targets;
  if (memory_mb && eval_memory_mb > 0) {
    capacity = std::max<std::size_t>(1, static_cast<std::size_t>(*memory_mb / static_cast<std::uint64_t>(eval_memory_mb)));
  }
  return even_split(targets, (targets + capacity - 1) / capacity);
}

std::vector<std::size_t> eval_worker_sizes(std::size_t targets, std::size_t workers) {
  return even_split(targets, std::min(targets, std::max<std::size_t>(1, workers)));
}

}  // namespace fleet::protocol
