// SPDX-License-Identifier: MIT
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fleet::builder {

// switch-to-configuration takes an flock on this file for as long as it switches.
inline constexpr const char* k_switch_lock = "/run/nixos/switch-to-configuration.lock";

// The processes holding (not waiting for) an flock on the file with this device and inode,
// as /proc/locks lists them ("1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF").
std::vector<pid_t> flock_holders(std::string_view proc_locks, unsigned major, unsigned minor, unsigned long inode);

// The activation a process belongs to, from its environment (NUL-separated, as
// /proc/PID/environ has it): every step a supervisor runs carries FLEET_ACTIVATION.
std::optional<std::string> fleet_activation_of(std::string_view environ_block);

struct SwitchLockOutcome {
  bool ok = true;       // false: someone else's switch holds the lock; do not switch now
  std::string message;  // what was found and done; empty when the lock was free
};

// Called by a supervisor that holds the target lock, so no other fleet supervisor lives: a
// switch-to-configuration of another activation that still holds `lock_file` was left by a
// dead supervisor and is ended (TERM, then KILL). One started outside fleet is left alone and
// reported. A missing or free lock file means there is nothing to do.
SwitchLockOutcome end_orphaned_switch(const std::filesystem::path& lock_file, const std::string& own_activation);

}  // namespace fleet::builder
