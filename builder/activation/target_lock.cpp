// SPDX-License-Identifier: MIT
#include "builder/activation/target_lock.hpp"

#include "uploader/base/error.hpp"
#include "uploader/base/file_io.hpp"
#include "uploader/protocol/json_document.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

namespace fleet::builder {

nlohmann::json to_json(const LockHolder& holder) {
  return {{"activation", holder.activation}, {"runId", holder.run_id}, {"deployer", holder.deployer},
          {"since", holder.since},           {"pid", holder.pid},      {"stateDir", holder.state_dir}};
}

std::optional<LockHolder> parse_lock_holder(const nlohmann::json& json) {
  if (!json.is_object() || !json.contains("activation") || !json["activation"].is_string()) {
    return std::nullopt;
  }
  try {
    LockHolder holder;
    holder.activation = json["activation"].get<std::string>();
    holder.run_id = json.value("runId", "");
    holder.deployer = json.value("deployer", "");
    holder.since = json.value("since", "");
    holder.pid = json.value("pid", 0);
    holder.state_dir = json.value("stateDir", "");
    return holder;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

std::string describe(const LockHolder& holder) {
  auto or_unknown = [](const std::string& s) { return s.empty() ? std::string("unknown") : s; };
  return "activation " + holder.activation + " (run " + or_unknown(holder.run_id) + ", deployer " +
         or_unknown(holder.deployer) + ", since " + or_unknown(holder.since) + ")";
}

std::string utc_now_iso8601() {
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

bool TargetLock::taken() const {
  UniqueFd fd(::open(lock_file().c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return false;
  }
  return ::flock(fd.get(), LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
}

UniqueFd TargetLock::acquire() const {
  std::error_code ec;
  if (!std::filesystem::is_directory(m_dir, ec)) {
    if (::mkdir(m_dir.c_str(), 0755) != 0 && errno != EEXIST) {
      throw Error("cannot create " + m_dir.string() + " for the activation lock: " + std::strerror(errno));
    }
    ::chmod(m_dir.c_str(), 0755);  // mkdir applies the umask
  }
  UniqueFd fd(::open(lock_file().c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd.valid()) {
    throw Error("cannot open the activation lock " + lock_file().string() + ": " + std::strerror(errno));
  }
  ::fchmod(fd.get(), 0644);  // readable by the unprivileged agent that checks it
  while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EINTR) {
      return UniqueFd();
    }
  }
  return fd;
}

std::optional<LockHolder> TargetLock::holder() const {
  auto text = read_whole_file(holder_file());
  if (!text) {
    return std::nullopt;
  }
  return parse_lock_holder(protocol::parse_json(*text));
}

void TargetLock::write_holder(const LockHolder& holder) const {
  AtomicWriteOptions readable;
  readable.mode = 0644;
  readable.permissions = Permissions::exact;
  write_file_atomically(holder_file(), to_json(holder).dump() + "\n", readable);
}

void TargetLock::clear_holder() const {
  std::error_code ignored;
  std::filesystem::remove(holder_file(), ignored);
}

}  // namespace fleet::builder
