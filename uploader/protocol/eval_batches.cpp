// SPDX-License-Identifier: MIT
#include "uploader/protocol/eval_batches.hpp"

#include <algorithm>

namespace fleet::protocol {

std::vector<std::size_t> eval_batch_sizes(std::size_t targets, std::optional<std::uint64_t> memory_mb,
                                          int eval_memory_mb) {
  std::vector<std::size_t> sizes;
  if (targets == 0) {
    return sizes;
  }
  std::size_t capacity = targets;
  if (memory_mb && eval_memory_mb > 0) {
    capacity = std::max<std::size_t>(1, static_cast<std::size_t>(*memory_mb / static_cast<std::uint64_t>(eval_memory_mb)));
  }
  const std::size_t count = (targets + capacity - 1) / capacity;
  for (std::size_t i = 0; i < count; ++i) {
    sizes.push_back(targets / count + (i < targets % count ? 1 : 0));
  }
  return sizes;
}

}  // namespace fleet::protocol
