// SPDX-License-Identifier: MIT
#include "uploader/tarball/earlier_tree.hpp"

#include "uploader/base/file_io.hpp"

#include <sys/stat.h>

#include <cstdint>

namespace fleet::tarball {

namespace fs = std::filesystem;

EarlierTree::EarlierTree(fs::path root) : m_root(std::move(root)) {}

std::optional<fs::path> EarlierTree::identical(const std::string& name, archive_entry* e, std::string_view data) {
  const fs::path candidate = m_root / name;
  struct stat st {};
  if (m_root.empty() || !plain_parents(fs::path(name).parent_path()) || ::lstat(candidate.c_str(), &st) != 0 ||
      !S_ISREG(st.st_mode) || static_cast<std::uint64_t>(st.st_size) != data.size() ||
      (st.st_mode & 0777) != (archive_entry_perm(e) & 0777)) {
    return std::nullopt;
  }
  auto content = read_whole_file(candidate);
  if (!content || *content != data) {
    return std::nullopt;
  }
  return candidate;
}

bool EarlierTree::plain_parents(const fs::path& relative) {
  if (relative.empty()) {
    return true;
  }
  auto known = m_plain_dirs.find(relative.string());
  if (known != m_plain_dirs.end()) {
    return known->second;
  }
  struct stat st {};
  const bool plain =
      plain_parents(relative.parent_path()) && ::lstat((m_root / relative).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  m_plain_dirs[relative.string()] = plain;
  return plain;
}

}  // namespace fleet::tarball
