// SPDX-License-Identifier: MIT
#include "coordinator/run/run_lock.hpp"

#include "coordinator/report/run_report.hpp"
#include "uploader/base/error.hpp"
#include "uploader/protocol/event.hpp"
#include "uploader/protocol/json_document.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <ctime>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fleet::coordinator {
namespace {

namespace fs = std::filesystem;

std::string read_all(int fd) {
  std::string text;
  char buffer[4096];
  if (::lseek(fd, 0, SEEK_SET) < 0) {
    return text;
  }
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0 || text.size() > 64 * 1024) {
      return text;
    }
    text.append(buffer, static_cast<std::size_t>(n));
  }
}

// The record is written by fleet, but tolerate anything: it only feeds messages.
std::optional<LockHolder> parse_holder(const std::string& text) {
  auto json = protocol::parse_json(text);
  if (!json.is_object()) {
    return std::nullopt;
  }
  LockHolder holder;
  holder.pid = json.value("pid", 0L);
  holder.host = json.value("host", std::string());
  holder.started = json.value("started", 0.0);
  holder.command = json.value("command", std::string());
  return holder;
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) {
    return "unknown";
  }
  return name;
}

void write_record(int fd, const fs::path& path, const std::string& command) {
  nlohmann::json record = {{"pid", static_cast<long>(::getpid())},
                           {"host", host_name()},
                           {"started", protocol::now_seconds()},
                           {"command", command}};
  std::string text = record.dump() + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    throw Error("cannot write the run lock " + path.string() + ": " + std::strerror(errno));
  }
}

}  // namespace

std::string LockHolder::describe() const {
  std::time_t seconds = static_cast<std::time_t>(started);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S UTC", &tm);
  std::string text = "pid " + std::to_string(pid) + " on host " + (host.empty() ? "?" : host) + " since " + stamp;
  return command.empty() ? text : text + " (" + command + ")";
}

fs::path default_lock_path() { return runs_dir().parent_path() / "lock"; }

RunLock RunLock::acquire(const fs::path& path, const std::string& command) {
  fs::path partial;
  for (const auto& part : path.parent_path()) {
    partial /= part;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      throw Error("cannot create directory " + partial.string() + " for the run lock: " + std::strerror(errno));
    }
  }
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) {
    throw Error("cannot open the run lock " + path.string() + ": " + std::strerror(errno));
  }
  int rc;
  do {
    rc = ::flock(fd.get(), LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int error = errno;
    auto holder = parse_holder(read_all(fd.get()));
    if (error != EWOULDBLOCK) {
      throw Error("cannot lock " + path.string() + ": " + std::strerror(error));
    }
    std::string who = holder ? holder->describe() : "a process that has not written its record yet";
    throw LockHeld("another fleet run holds the lock " + path.string() + ": " + who +
                   "; wait for it to finish, or stop it (the lock is released when that process ends)");
  }
  // We hold the flock, so whoever wrote a record is gone: a run that ended cleanly truncates
  // the file, so a record left here is a dead process's.
  std::optional<LockHolder> stale = parse_holder(read_all(fd.get()));
  write_record(fd.get(), path, command);
  return RunLock(std::move(fd), path, stale);
}

RunLock::RunLock(UniqueFd fd, fs::path path, std::optional<LockHolder> taken_over)
    : m_fd(std::move(fd)), m_path(std::move(path)), m_taken_over(std::move(taken_over)) {}

RunLock::~RunLock() {
  // Emptied before the flock goes (with m_fd), so the next run does not mistake a clean end
  // for a crash.
  if (m_fd.valid() && ::ftruncate(m_fd.get(), 0) != 0) {
    // Nothing to do: the next holder then reports a takeover, which is harmless.
  }
}

}  // namespace fleet::coordinator
