// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fleet::builder {

// The sources an agent holds under <state>/sources: each received source unpacked as <hash>/
// (what builds read) and the newest few also as <hash>.tar, the bases deltas are made against
// and what this node relays to others.
class SourceStore {
public:
  explicit SourceStore(std::filesystem::path state_dir);

  std::filesystem::path dir() const { return m_dir; }
  std::filesystem::path tree(const std::string& hash) const { return m_dir / hash; }

  // True when `hash` is unpacked and its tar kept, so this node can both build and relay it.
  bool holds(const std::string& hash) const;

  // Hashes of the kept tars, newest first.
  std::vector<std::string> bases() const;

  // The kept tar called `hash`, or nullopt. Reading it marks it as recently used.
  std::optional<std::string> tar(const std::string& hash) const;

  // Keeps `tar` (already verified to be `hash`) atomically, then removes the least recently
  // used tars beyond k_kept_tars. Throws fleet::Error when it cannot be written.
  void keep_tar(const std::string& hash, std::string_view tar) const;

  static constexpr std::size_t k_kept_tars = 3;

private:
  std::filesystem::path tar_path(const std::string& hash) const { return m_dir / (hash + ".tar"); }

  std::filesystem::path m_dir;
};

}  // namespace fleet::builder
