// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/base/file_io.hpp"
#include "uploader/base/unique_fd.hpp"

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fleet::builder {

// An unpacked source tree that a job reads. While a HeldTree exists, the store does not remove
// the tree (a shared flock on its directory says it is in use).
class HeldTree {
public:
  HeldTree(std::filesystem::path root, UniqueFd lock) : m_root(std::move(root)), m_lock(std::move(lock)) {}

  const std::filesystem::path& root() const { return m_root; }

  // The flake directory `flake` (relative, inside the tree). Throws ProtocolError for a flake
  // path that could leave the tree.
  std::filesystem::path flake_dir(const std::string& flake) const;

private:
  std::filesystem::path m_root;
  UniqueFd m_lock;
};

// The sources an agent holds under <state>/sources: each received source as <hash>.tar (the
// newest few are kept: the bases deltas are made against, and what this node relays to
// others; with <hash>.tar.zst when it came whole) and, once a job needs it, unpacked as
// <hash>/ (what builds read).
class SourceStore {
public:
  explicit SourceStore(std::filesystem::path state_dir);

  std::filesystem::path dir() const { return m_dir; }
  std::filesystem::path tree(const std::string& hash) const { return m_dir / hash; }
  std::filesystem::path tar_path(const std::string& hash) const { return m_dir / (hash + ".tar"); }
  std::filesystem::path compressed_path(const std::string& hash) const { return m_dir / (hash + ".tar.zst"); }

  // True when the tar of `hash` is kept (verified when received), so this node can build and
  // relay it.
  bool holds(const std::string& hash) const;

  // The unpacked tree of `hash`, held for the caller; unpacked from its tar first if need be
  // (a receive only keeps the tar, so that relaying to other nodes does not wait for an
  // unpack), hardlinking the files it shares with the newest tree unpacked before. Its files
  // are read-only: one inode may belong to several trees. Throws fleet::ProtocolError for a
  // malformed hash or a tar that cannot be unpacked safely, fleet::NodeError when neither tree
  // nor tar is here, and adds the context "unpacking source <hash> into <tree>" to any
  // fleet::Error of the unpack. A tar that no longer unpacks (damaged since it was received)
  // is removed, so that the next run sends it again.
  HeldTree ensure_tree(const std::string& hash) const;

  // Hashes of the kept tars, newest first.
  std::vector<std::string> bases() const;

  // The kept tar called `hash`, or nullopt. Reading it marks it as recently used.
  std::optional<std::string> tar(const std::string& hash) const;

  // The kept tar called `hash` opened for reading, or an invalid fd; marks it as recently used.
  // What is read through it stays whole even if the tar is pruned meanwhile.
  UniqueFd open_tar(const std::string& hash) const;

  // Keeps `tar`, written to a PendingFile for tar_path(hash) and verified to be `hash`, and
  // `compressed`, the .tar.zst it came as when given (relayed as it is, not compressed again),
  // for compressed_path(hash): syncs and commits both, then removes the least recently used
  // tars beyond k_kept_tars and the unpacked trees whose tar is gone, unless a job holds them.
  // Throws fleet::Error when they cannot be written.
  void keep(const std::string& hash, PendingFile& tar, PendingFile* compressed = nullptr) const;

  // keep() for a tar (and .tar.zst) in memory.
  void keep_tar(const std::string& hash, std::string_view tar,
                std::optional<std::string_view> compressed = std::nullopt) const;

  // The .tar.zst kept with the tar `hash`, or nullopt.
  std::optional<std::string> compressed(const std::string& hash) const;

  static constexpr std::size_t k_kept_tars = 3;

private:
  void remove_unkept_trees(const std::vector<std::string>& kept) const;

  std::filesystem::path m_dir;
};

}  // namespace fleet::builder
