// SPDX-License-Identifier: MIT
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace fleet::test {

// Writes `content` to `path` (creating parents) and sets its permission bits to `mode`.
inline void write_file(const std::filesystem::path& path, const std::string& content, unsigned mode = 0644) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  std::filesystem::permissions(path, static_cast<std::filesystem::perms>(mode));
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// One line per entry below `root`, sorted: "<path> dir 755", "<path> file 644 <content>" or
// "<path> link -> <target>", symlinks not followed. Two trees are equal when their listings are.
inline std::string list_tree(const std::filesystem::path& root) {
  namespace fs = std::filesystem;
  std::map<std::string, std::string> listing;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    struct stat st {};
    ::lstat(entry.path().c_str(), &st);
    std::ostringstream description;
    if (S_ISLNK(st.st_mode)) {
      description << "link -> " << fs::read_symlink(entry.path()).string();
    } else if (S_ISDIR(st.st_mode)) {
      description << "dir " << std::oct << (st.st_mode & 07777);
    } else {
      description << "file " << std::oct << (st.st_mode & 07777) << ' ' << read_file(entry.path());
    }
    listing[entry.path().lexically_relative(root).string()] = description.str();
  }
  std::string text;
  for (const auto& [path, description] : listing) {
    text += path + " " + description + "\n";
  }
  return text;
}

}  // namespace fleet::test
