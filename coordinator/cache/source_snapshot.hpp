// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/tarball/source_set.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace fleet::coordinator {

// What the packed tar of a source set depends on, as far as lstat can tell without reading file
// contents: for each entry its path and type; for regular files mode, size, mtime and ctime
// (nanoseconds), inode and device; for symlinks the target. Two equal snapshots of the same
// root mean an unchanged tree, unless a file changed within one timestamp tick of being
// recorded, which `newest_change_ns` lets the caller rule out.
struct SourceSnapshot {
  std::string text;                  // canonical encoding; compare as bytes
  std::int64_t newest_change_ns = 0;  // the newest mtime or ctime of a regular file (ns since the epoch)
};

// Snapshots `sources` (the root is made absolute, so the same tree reached through another
// working directory compares equal). Returns nullopt when an entry vanished or is no longer
// a file, directory or symlink: the caller then packs, which reports the problem.
std::optional<SourceSnapshot> snapshot_sources(const tarball::SourceSet& sources);

}  // namespace fleet::coordinator
