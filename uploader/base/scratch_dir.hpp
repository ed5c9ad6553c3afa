// SPDX-License-Identifier: MIT
#pragma once

#include <filesystem>
#include <string>

namespace fleet {

// Owns a working directory and removes it, with everything inside, when it goes out of scope
// (errors while removing are ignored), unless release() handed it over first. Not copyable.
class ScratchDir {
public:
  // Takes ownership of `path`, which may not exist yet; nothing is created.
  explicit ScratchDir(std::filesystem::path path);
  // Creates a fresh directory `base`/`prefix`XXXXXX, readable by the owner only; throws
  // fleet::Error naming `base` and the reason when that is impossible.
  static ScratchDir create_in(const std::filesystem::path& base, const std::string& prefix);
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir();

  // The owned directory.
  const std::filesystem::path& path() const { return m_path; }
  // Keeps the directory on destruction: its contents were moved or renamed into their final place.
  void release() { m_released = true; }

private:
  std::filesystem::path m_path;
  bool m_released = false;
};

}  // namespace fleet
