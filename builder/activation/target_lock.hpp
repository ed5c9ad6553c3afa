// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/base/unique_fd.hpp"

#include <nlohmann/json.hpp>

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

namespace fleet::builder {

inline constexpr const char* k_target_lock_dir = "/run/fleet";

// Who holds a target's activation lock, as its holder file says.
struct LockHolder {
  std::string activation;  // activation id
  std::string run_id;
  std::string deployer;    // user@host
  std::string since;       // UTC, ISO 8601
  pid_t pid = 0;           // the supervisor
  std::string state_dir;   // where that activation's files are

  bool operator==(const LockHolder&) const = default;
};

nlohmann::json to_json(const LockHolder& holder);
// nullopt when `json` is not a holder (a damaged or foreign file).
std::optional<LockHolder> parse_lock_holder(const nlohmann::json& json);
// "activation t1-…-3f2a (run 2025…, deployer alice@laptop, since 2025-01-01T10:00:00Z)"
std::string describe(const LockHolder& holder);
// Now, as a holder's `since`.
std::string utc_now_iso8601();

// One activation per target at a time. The supervisor holds an exclusive flock on
// DIR/activation.lock (root's directory 0755, the file 0644) for its whole life and names itself
// in DIR/activation-holder.json; an unprivileged agent can still see whether it is taken.
class TargetLock {
public:
  explicit TargetLock(std::filesystem::path dir = k_target_lock_dir) : m_dir(std::move(dir)) {}

  // For the unprivileged agent: true when a live process holds the lock (a non-blocking shared
  // attempt on the readable file; no file means no holder).
  bool taken() const;
  // For the supervisor: creates the directory and file when missing and takes the lock
  // exclusively without waiting; an invalid fd when another process holds it. Throws
  // fleet::Error when the lock file cannot be made.
  UniqueFd acquire() const;

  // What the holder file says; nullopt when there is none (or it is damaged).
  std::optional<LockHolder> holder() const;
  void write_holder(const LockHolder& holder) const;
  // Removed by the holder itself before it lets go of the lock: a holder file beside a free
  // lock therefore names a supervisor that died.
  void clear_holder() const;

  std::filesystem::path lock_file() const { return m_dir / "activation.lock"; }
  std::filesystem::path holder_file() const { return m_dir / "activation-holder.json"; }

private:
  std::filesystem::path m_dir;
};

}  // namespace fleet::builder
