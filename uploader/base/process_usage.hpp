// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <optional>

namespace fleet {

// What a process has used: user+system CPU time and the largest resident set it reached.
struct ProcessUsage {
  double cpu_seconds = 0;
  std::uint64_t peak_rss_kib = 0;
};

// What the running process `pid` has used so far, from its /proc entry (its own figures, not its
// children's); nullopt when it is unreadable or has exited, even if it is not reaped yet.
std::optional<ProcessUsage> usage_so_far(int pid);

}  // namespace fleet
