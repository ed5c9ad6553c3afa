// SPDX-License-Identifier: MIT
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace fleet {

// The whole file, or nothing when it is missing or unreadable (a cache treats both as a miss).
std::optional<std::string> read_whole_file(const std::filesystem::path& path);

// Writes `content` to a temporary file beside `path` (0644) and renames it over `path`, creating
// the directory, so readers see the old file or the new one, never a part. Throws fleet::Error
// naming the path when the disk refuses. No fsync: readers verify what they read.
void write_file_atomically(const std::filesystem::path& path, std::string_view content);

// Sets the file's modification time to now; errors are ignored (it only orders pruning).
void touch_file(const std::filesystem::path& path);

}  // namespace fleet
