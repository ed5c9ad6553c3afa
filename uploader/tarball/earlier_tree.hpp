// SPDX-License-Identifier: MIT
#pragma once
// The hardlink fast path of the tarball reader; internal to uploader/tarball.

#include <archive_entry.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace fleet::tarball {

// An earlier unpacked tree whose files, where identical to an entry's, are hardlinked instead
// of written again: on a mostly unchanged source that is a few writes instead of thousands.
// Only plain files reached through plain directories count, so a link never leaves the tree.
class EarlierTree {
public:
  // `root` may be empty: then no file is ever identical.
  explicit EarlierTree(std::filesystem::path root);

  // The earlier file identical (content and permissions) to the regular-file entry `e` named
  // `name` and holding `data`, if there is one.
  std::optional<std::filesystem::path> identical(const std::string& name, archive_entry* e, std::string_view data);

private:
  bool plain_parents(const std::filesystem::path& relative);

  std::filesystem::path m_root;
  std::map<std::string, bool> m_plain_dirs;  // relative directory -> a real directory all the way
};

}  // namespace fleet::tarball
