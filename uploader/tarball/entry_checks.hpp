// SPDX-License-Identifier: MIT
#pragma once
// What the tarball reader refuses in an entry before anything is written; internal to
// uploader/tarball. Every check throws fleet::ProtocolError naming the entry.

#include "uploader/tarball/tarball_reader.hpp"

#include <archive_entry.h>

#include <optional>
#include <set>
#include <string>

namespace fleet::tarball {

// The one form of a name as it came off the wire, before it is prefixed with the extraction
// directory: "a/b" for "a/b" and "a/b/" (a directory). Refuses empty and absolute names and
// empty, '.' and '..' components, so that no two spellings name one path and the symlink guard
// sees every path as written. Returns nullopt for the extraction root itself ("." or "./").
std::optional<std::string> normalised_name(const char* raw);

// Refuses hardlinks, every type but regular files, directories and symlinks, symlinks with an
// empty target, and declared sizes over `limits`.
void validate_entry(archive_entry* e, const UnpackLimits& limits);

// Sets the entry's permissions to what an unpacked source has: directories 0755, symlinks
// 0777, files read-only, 0555 when any execute bit was set and 0444 otherwise (a file may be
// hardlinked into several trees: writing it through one would change the others). Owners and
// times are never restored.
void normalise_mode(archive_entry* e);

// Remembers the tarball's symlinks and refuses entries beneath one: writing them would go
// through the link.
class SymlinkGuard {
public:
  // Refuses `name` (normalised) when one of its parents is a symlink seen earlier; records `e`
  // if it is one.
  void check(const std::string& name, archive_entry* e);

private:
  std::set<std::string> m_symlinks;
};

}  // namespace fleet::tarball
