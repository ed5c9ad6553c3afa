// SPDX-License-Identifier: MIT
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace fleet {

// The whole file, or nothing when it is missing or unreadable (a cache treats both as a miss).
std::optional<std::string> read_whole_file(const std::filesystem::path& path);

// Reads from `fd` into `buffer` until `size` bytes are there or the file ends, retrying
// interrupted reads. Returns how many bytes it read, or -1 with errno set.
ssize_t read_fully(int fd, char* buffer, std::size_t size);

// Who a file belongs to, as fchown(2) takes it.
struct FileOwner {
  uid_t uid;
  gid_t gid;
};

// Where the file's permission bits come from.
enum class Permissions {
  minus_umask,  // `mode` as open(2) applies it: the process umask may narrow it
  exact,        // `mode` exactly, set before the first byte is written
};

// How much of a write_file_atomically() survives a crash of the machine.
enum class Durability {
  none,                // nothing synced: fine when readers verify what they read
  file,                // the content is synced before the rename: the name never points at lost bytes
  file_and_directory,  // also the directory after the rename: the new name itself is on disk
};

// Whether write_file_atomically() creates the missing directories above the file.
enum class MissingDirectories { create, fail };

// The defaults suit a cache: 0644 minus the umask, no sync, directories created.
struct AtomicWriteOptions {
  mode_t mode = 0644;
  Permissions permissions = Permissions::minus_umask;
  // Given to the file before the first byte, so the content is never readable by the wrong
  // user, even briefly; needs the privilege to chown.
  std::optional<FileOwner> owner;
  Durability durability = Durability::none;
  MissingDirectories missing_directories = MissingDirectories::create;
};

// Writes `content` to a fresh temporary file ".<name>.tmp-XXXXXX" beside `path` (created with
// O_EXCL and O_NOFOLLOW, so it never follows or reuses an existing file) and renames it over
// `path`, so readers see the old file or the new one, never a part; a symlink at `path` is
// replaced, not followed. Throws fleet::Error naming the path, the step and the reason; the
// temporary file never outlives a failure.
void write_file_atomically(const std::filesystem::path& path, std::string_view content,
                           const AtomicWriteOptions& options = {});

// Sets the file's modification time to now; errors are ignored (it only orders pruning).
void touch_file(const std::filesystem::path& path);

}  // namespace fleet
