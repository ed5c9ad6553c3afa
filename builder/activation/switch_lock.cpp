// SPDX-License-Identifier: MIT
#include "builder/activation/switch_lock.hpp"

#include "uploader/base/file_io.hpp"
#include "uploader/base/unique_fd.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <sstream>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <thread>

namespace fleet::builder {
namespace {

constexpr std::chrono::seconds k_term_grace{10};
constexpr std::chrono::seconds k_kill_grace{5};

bool lock_free(const std::filesystem::path& lock_file) {
  UniqueFd fd(::open(lock_file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return true;
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
    ::flock(fd.get(), LOCK_UN);
    return true;
  }
  return false;
}

bool wait_free(const std::filesystem::path& lock_file, std::chrono::seconds grace) {
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (!lock_free(lock_file)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{200});
  }
  return true;
}

// Signals the process and, when it leads its own group (as every step a supervisor runs
// does), the commands it started.
void signal_switch(pid_t pid, int signal) {
  if (::getpgid(pid) == pid) {
    ::kill(-pid, signal);
  } else {
    ::kill(pid, signal);
  }
}

}  // namespace

std::vector<pid_t> flock_holders(std::string_view proc_locks, unsigned major, unsigned minor, unsigned long inode) {
  std::vector<pid_t> pids;
  std::istringstream lines{std::string(proc_locks)};
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string ordinal, kind, mode, access, device;
    long pid = 0;
    fields >> ordinal >> kind;
    if (kind == "->") {
      continue;  // a waiter, not a holder
    }
    if (kind != "FLOCK" || !(fields >> mode >> access >> pid >> device) || pid <= 0) {
      continue;
    }
    unsigned maj = 0, min = 0;
    unsigned long ino = 0;
    if (std::sscanf(device.c_str(), "%x:%x:%lu", &maj, &min, &ino) == 3 && maj == major && min == minor && ino == inode) {
      pids.push_back(static_cast<pid_t>(pid));
    }
  }
  return pids;
}

std::optional<std::string> fleet_activation_of(std::string_view environ_block) {
  constexpr std::string_view key = "FLEET_ACTIVATION=";
  std::size_t begin = 0;
  while (begin < environ_block.size()) {
    auto end = environ_block.find('\0', begin);
    auto entry = environ_block.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
    if (entry.substr(0, key.size()) == key && entry.size() > key.size()) {
      return std::string(entry.substr(key.size()));
    }
    if (end == std::string_view::npos) {
      break;
    }
    begin = end + 1;
  }
  return std::nullopt;
}

SwitchLockOutcome end_orphaned_switch(const std::filesystem::path& lock_file, const std::string& own_activation) {
  if (lock_free(lock_file)) {
    return {};
  }
  struct stat st {};
  auto locks = read_whole_file("/proc/locks");
  if (::stat(lock_file.c_str(), &st) != 0 || !locks) {
    return {false, lock_file.string() + " is held and its holder cannot be found; wait for that switch to end"};
  }
  std::string message;
  for (pid_t pid : flock_holders(*locks, major(st.st_dev), minor(st.st_dev), st.st_ino)) {
    auto environ_block = read_whole_file("/proc/" + std::to_string(pid) + "/environ");
    auto owner = environ_block ? fleet_activation_of(*environ_block) : std::nullopt;
    if (!owner || *owner == own_activation) {
      return {false, "switch-to-configuration (pid " + std::to_string(pid) + ", not started by fleet) holds " +
                         lock_file.string() + "; wait for it to end and deploy again"};
    }
    message += (message.empty() ? "" : "; ") + std::string("a switch-to-configuration (pid ") + std::to_string(pid) +
               ") of activation " + *owner + ", whose supervisor is dead, still held " + lock_file.string();
    signal_switch(pid, SIGTERM);
    if (!wait_free(lock_file, k_term_grace)) {
      signal_switch(pid, SIGKILL);
      message += ": ended it with SIGKILL";
    } else {
      message += ": ended it with SIGTERM";
    }
  }
  if (!wait_free(lock_file, k_kill_grace)) {
    return {false, message + (message.empty() ? "" : "; ") + lock_file.string() + " is still held; wait and deploy again"};
  }
  return {true, message};
}

}  // namespace fleet::builder
