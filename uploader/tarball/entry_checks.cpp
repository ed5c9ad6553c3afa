// SPDX-License-Identifier: MIT
#include "uploader/tarball/entry_checks.hpp"

#include "uploader/base/error.hpp"

#include <cstdint>
#include <string_view>

namespace fleet::tarball {

// After prefixing every name is absolute, so libarchive's NOABSOLUTEPATHS cannot do this.
std::optional<std::string> normalised_name(const char* raw) {
  if (raw == nullptr || *raw == '\0') {
    throw ProtocolError("tarball has an entry with an empty name");
  }
  std::string name = raw;
  if (name.front() == '/') {
    throw ProtocolError("tarball entry '" + name + "' is an absolute path");
  }
  if (name == "." || name == "./") {
    return std::nullopt;
  }
  // One trailing slash marks a directory; it is not part of the path.
  const std::string path = name.back() == '/' ? name.substr(0, name.size() - 1) : name;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string::npos) {
      slash = path.size();
    }
    const std::string_view component(path.data() + start, slash - start);
    if (component == "..") {
      throw ProtocolError("tarball entry '" + name + "' has a '..' component");
    }
    if (component.empty() || component == ".") {
      throw ProtocolError("tarball entry '" + name + "' has an empty or '.' component; fleet writes every path once, as a/b");
    }
    start = slash + 1;
  }
  return path;
}

void validate_entry(archive_entry* e, const UnpackLimits& limits) {
  const char* name = archive_entry_pathname(e);
  const std::string shown = name != nullptr ? name : "";
  if (archive_entry_hardlink(e) != nullptr) {
    throw ProtocolError("tarball entry '" + shown + "' is a hardlink (to '" + archive_entry_hardlink(e) +
                        "'); fleet tarballs store hardlinked files as copies");
  }
  const auto type = archive_entry_filetype(e);
  if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
    throw ProtocolError("tarball entry '" + shown + "' has unsupported type 0" + std::to_string(type >> 12) +
                        "; only files, directories and symlinks are allowed");
  }
  if (type == AE_IFLNK && (archive_entry_symlink(e) == nullptr || *archive_entry_symlink(e) == '\0')) {
    throw ProtocolError("tarball symlink '" + shown + "' has an empty target");
  }
  if (archive_entry_size_is_set(e) != 0 &&
      (archive_entry_size(e) < 0 || static_cast<std::uint64_t>(archive_entry_size(e)) > limits.max_total_bytes)) {
    throw ProtocolError("tarball entry '" + shown + "' declares a size of " + std::to_string(archive_entry_size(e)) +
                        " bytes, over the limit of " + std::to_string(limits.max_total_bytes));
  }
}

void normalise_mode(archive_entry* e) {
  switch (archive_entry_filetype(e)) {
  case AE_IFDIR:
    archive_entry_set_perm(e, 0755);
    break;
  case AE_IFLNK:
    archive_entry_set_perm(e, 0777);
    break;
  default:
    archive_entry_set_perm(e, (archive_entry_perm(e) & 0111) != 0 ? 0555 : 0444);
    break;
  }
}

void SymlinkGuard::check(const std::string& name, archive_entry* e) {
  for (auto slash = name.find('/'); slash != std::string::npos; slash = name.find('/', slash + 1)) {
    if (m_symlinks.count(name.substr(0, slash)) != 0) {
      throw ProtocolError("tarball entry '" + name + "' lies beneath the symlink '" + name.substr(0, slash) +
                          "': writing it would go through the link");
    }
  }
  if (archive_entry_filetype(e) == AE_IFLNK) {
    m_symlinks.insert(name);
  }
}

}  // namespace fleet::tarball
