// SPDX-License-Identifier: MIT
#include "builder/source_store.hpp"

#include "uploader/base/error.hpp"
#include "uploader/base/file_io.hpp"
#include "uploader/protocol/job.hpp"
#include "uploader/tarball/tarball_reader.hpp"

#include <algorithm>
#include <cerrno>
#include <string>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fleet::builder {

namespace fs = std::filesystem;

SourceStore::SourceStore(fs::path state_dir) : m_dir(std::move(state_dir) / "sources") {}

bool SourceStore::holds(const std::string& hash) const {
  std::error_code ec;
  return fs::is_regular_file(fs::symlink_status(tar_path(hash), ec));
}

namespace {

// The tree at `tree`, opened and locked `how` (LOCK_SH: a job reads it; LOCK_EX | LOCK_NB: no
// one does), or an invalid fd when it is not there, or is locked the other way.
UniqueFd lock_tree(const fs::path& tree, int how) {
  UniqueFd fd(::open(tree.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  int rc = -1;
  while (fd.valid() && (rc = ::flock(fd.get(), how)) != 0 && errno == EINTR) {
  }
  if (!fd.valid() || rc != 0) {
    return {};
  }
  // Removing renames a tree away before deleting it: a lock taken on what is no longer there
  // (or something new in its place) protects nothing.
  struct stat held {}, named {};
  if (::fstat(fd.get(), &held) != 0 || ::lstat(tree.c_str(), &named) != 0 || held.st_ino != named.st_ino ||
      held.st_dev != named.st_dev) {
    return {};
  }
  return fd;
}

}  // namespace

fs::path HeldTree::flake_dir(const std::string& flake) const {
  if (!protocol::is_flake_path(flake)) {
    throw ProtocolError("--flake must be a relative path inside the source, got '" + flake + "'");
  }
  return (m_root / flake).lexically_normal();
}

HeldTree SourceStore::ensure_tree(const std::string& hash) const {
  if (!protocol::is_content_hash(hash)) {
    throw ProtocolError("--hash is not a content hash: '" + hash + "'");
  }
  // A tree removed between its unpack and its lock is unpacked again, once or twice at most.
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (UniqueFd lock = lock_tree(tree(hash), LOCK_SH); lock.valid()) {
      return HeldTree(tree(hash), std::move(lock));
    }
    const UniqueFd kept = open_tar(hash);
    if (!kept.valid()) {
      throw NodeError("source " + hash + " was not received on this host; send it first (fleet-builder receive)");
    }
    // The newest tree unpacked before is most like this one: its unchanged files are reused.
    fs::path earlier;
    for (const auto& base : bases()) {
      std::error_code ec;
      if (base != hash && fs::is_directory(fs::symlink_status(tree(base), ec))) {
        earlier = tree(base);
        break;
      }
    }
    try {
      tarball::unpack_tar_file(kept.get(), tree(hash), hash, earlier);
    } catch (const tarball::DestinationExists&) {
      // Another job unpacked it first.
    } catch (Error& e) {
      if (dynamic_cast<const ProtocolError*>(&e) != nullptr) {
        // It was verified when received, so it was damaged since (a crash, a disk): keeping it
        // would have every later upload skipped as held and every build fail the same way.
        std::error_code ec;
        fs::remove(tar_path(hash), ec);
        fs::remove(compressed_path(hash), ec);
      }
      e.add_context("unpacking source " + hash + " into " + tree(hash).string());
      throw;
    }
  }
  throw NodeError("source " + hash + " was removed from " + tree(hash).string() +
                  " each time it was unpacked; is another agent pruning this state directory?");
}

void SourceStore::remove_unkept_trees(const std::vector<std::string>& kept) const {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(m_dir, ec)) {
    const std::string name = entry.path().filename().string();
    const bool doomed = name.rfind(".removing-", 0) == 0;  // left by a removal that was cut short
    if (!doomed && (!protocol::is_content_hash(name) || std::find(kept.begin(), kept.end(), name) != kept.end())) {
      continue;
    }
    if (!doomed) {
      const UniqueFd unused = lock_tree(entry.path(), LOCK_EX | LOCK_NB);
      if (!unused.valid()) {
        continue;  // a job reads it; the next prune removes it
      }
      const fs::path away = m_dir / (".removing-" + name + "-" + std::to_string(::getpid()));
      if (::rename(entry.path().c_str(), away.c_str()) != 0) {
        continue;
      }
      fs::remove_all(away, ec);
    } else {
      fs::remove_all(entry.path(), ec);
    }
  }
}

std::vector<std::string> SourceStore::bases() const {
  std::vector<std::pair<fs::file_time_type, std::string>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(m_dir, ec)) {
    const auto name = entry.path().filename().string();
    if (entry.path().extension() != ".tar" || !entry.is_regular_file(ec)) {
      continue;
    }
    const auto hash = name.substr(0, name.size() - 4);
    if (protocol::is_content_hash(hash)) {
      found.emplace_back(entry.last_write_time(ec), hash);
    }
  }
  std::sort(found.begin(), found.end(), std::greater<>());
  std::vector<std::string> hashes;
  for (auto& [time, hash] : found) {
    hashes.push_back(std::move(hash));
  }
  return hashes;
}

std::optional<std::string> SourceStore::tar(const std::string& hash) const {
  auto data = read_whole_file(tar_path(hash));
  if (data) {
    touch_file(tar_path(hash));
  }
  return data;
}

UniqueFd SourceStore::open_tar(const std::string& hash) const {
  UniqueFd fd(::open(tar_path(hash).c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st {};
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return {};
  }
  touch_file(tar_path(hash));
  return fd;
}

void SourceStore::keep_tar(const std::string& hash, std::string_view tar, std::optional<std::string_view> compressed) const {
  std::error_code ec;
  fs::create_directories(m_dir, ec);  // a failure is reported by the write below, with its path
  PendingFile tar_file(tar_path(hash));
  tar_file.write(tar);
  std::optional<PendingFile> compressed_file;
  if (compressed) {
    compressed_file.emplace(compressed_path(hash));
    compressed_file->write(*compressed);
  }
  keep(hash, tar_file, compressed_file ? &*compressed_file : nullptr);
}

void SourceStore::keep(const std::string& hash, PendingFile& tar, PendingFile* compressed) const {
  // Synced before the rename: after a crash, a kept tar is whole or not there, never a
  // truncated one this node would claim to hold.
  tar.sync();
  tar.commit();
  if (compressed != nullptr) {
    compressed->sync();
    compressed->commit();
  }
  std::error_code ec;
  auto kept = bases();
  for (std::size_t i = k_kept_tars; i < kept.size(); ++i) {
    if (kept[i] != hash) {
      fs::remove(tar_path(kept[i]), ec);
      fs::remove(compressed_path(kept[i]), ec);
    }
  }
  kept.resize(std::min(kept.size(), k_kept_tars));
  if (std::find(kept.begin(), kept.end(), hash) == kept.end()) {
    kept.push_back(hash);
  }
  remove_unkept_trees(kept);
}

std::optional<std::string> SourceStore::compressed(const std::string& hash) const {
  return read_whole_file(compressed_path(hash));
}

}  // namespace fleet::builder
