// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/tarball/tarball_writer.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace fleet::coordinator {

// Packed tarballs kept on the laptop by content hash, bounded in size: <dir>/tarballs/<hash>.tar.zst
// with a <hash>.json sidecar (tar size, entry count, size and SHA-256 of the compressed bytes).
// Every read verifies the sidecar, so a partial or corrupt entry is a miss, never wrong bytes.
// Safe to share between processes: files are replaced by rename.
class TarballCache {
public:
  // Uses `dir` (created on first put); `max_bytes` bounds the total size of the .tar.zst files.
  explicit TarballCache(std::filesystem::path dir, std::uint64_t max_bytes = 512ull << 20);

  // $XDG_CACHE_HOME/fleet when that is an absolute path, else $HOME/.cache/fleet. Throws
  // fleet::Error when neither is set to an absolute path.
  static std::filesystem::path default_dir();

  // Stores `packed` atomically, then removes the least recently used tarballs (by mtime) until
  // the total is within max_bytes, never this one. Throws fleet::Error when it cannot be written.
  void put(const tarball::PackedTarball& packed);

  // The .tar.zst bytes stored under `hash`, or nullopt when absent or failing verification.
  // Marks the entry as recently used.
  std::optional<std::string> compressed(const std::string& hash) const;

  // Like compressed(), with content_hash, tar_size and file_count filled in.
  std::optional<tarball::PackedTarball> packed(const std::string& hash) const;

  // The cache's root directory, as given.
  const std::filesystem::path& dir() const { return m_dir; }

private:
  std::filesystem::path tarball_path(const std::string& hash) const;
  std::filesystem::path sidecar_path(const std::string& hash) const;
  void prune(const std::string& keep) const;

  std::filesystem::path m_dir;
  std::uint64_t m_max_bytes;
};

}  // namespace fleet::coordinator
