// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/base/unique_fd.hpp"

#include <filesystem>
#include <optional>
#include <string>

namespace fleet::coordinator {

// Who holds (or last held) the run lock, as recorded in the lock file.
struct LockHolder {
  long pid = 0;
  std::string host;
  double started = 0;  // seconds since the epoch
  std::string command;

  // "pid 1234 on host ci since 2026-11-21 23:00:00 UTC (fleet sync-and-build --unattended)".
  std::string describe() const;
};

// One run at a time per state directory: an exclusive flock(2) on a lock file that also records
// the holder. The kernel releases the flock when its process dies, however it dies, so a lock
// left by a crashed run is simply taken over. Released by the destructor.
class RunLock {
public:
  // Takes the lock at `path` (directories created 0700) without waiting, and records this
  // process as the holder. Throws fleet::LockHeld naming the holder when another process holds it,
  // fleet::Error when the file cannot be opened or written.
  static RunLock acquire(const std::filesystem::path& path, const std::string& command);

  RunLock(RunLock&& other) noexcept = default;
  RunLock& operator=(RunLock&&) = delete;
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  ~RunLock();

  // The previous holder when it died without releasing its record (a stale lock taken over).
  const std::optional<LockHolder>& taken_over() const { return m_taken_over; }
  const std::filesystem::path& path() const { return m_path; }

private:
  RunLock(UniqueFd fd, std::filesystem::path path, std::optional<LockHolder> taken_over);

  UniqueFd m_fd;
  std::filesystem::path m_path;
  std::optional<LockHolder> m_taken_over;
};

// $XDG_STATE_HOME/fleet/lock (beside the runs directory).
std::filesystem::path default_lock_path();

}  // namespace fleet::coordinator
