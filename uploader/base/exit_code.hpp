// SPDX-License-Identifier: MIT
#pragma once

namespace fleet {

// Process exit codes, as DESIGN.md defines them for `fleet`; `fleet-builder` uses the same.
enum class ExitCode : int {
  ok = 0,           // every selected node succeeded
  node_failed = 1,  // at least one node failed; the others went on
  usage = 2,        // usage or configuration error; nothing was touched
  locked = 3,       // another run holds the lock
};

inline int to_int(ExitCode code) { return static_cast<int>(code); }

}  // namespace fleet
