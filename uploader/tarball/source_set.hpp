// SPDX-License-Identifier: MIT
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace fleet::tarball {

// The files to pack: `paths` are relative to `root` (lexically, symlinks are not resolved),
// sorted bytewise, and include directories, so a parent always precedes its children.
struct SourceSet {
  std::filesystem::path root;
  std::vector<std::string> paths;
};

// Walks `root` without following symlinks and lists regular files, directories and symlinks;
// devices, fifos and sockets are skipped. An `exclude` pattern without '/' is an fnmatch glob
// tried on every path component's name (".git", "*.swp"); one with '/' is matched against the
// whole relative path (anchored, "secrets/plain/*"; a leading '/' is ignored). A trailing '/'
// limits a pattern to directories. An excluded directory is skipped with all its contents.
// Throws fleet::ConfigError naming the path when root is missing or something is unreadable.
SourceSet collect_sources(const std::filesystem::path& root, const std::vector<std::string>& exclude);

}  // namespace fleet::tarball
