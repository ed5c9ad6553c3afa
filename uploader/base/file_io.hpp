// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/base/error.hpp"
#include "uploader/base/unique_fd.hpp"

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

// A file being written: a fresh temporary file ".<name>.tmp-XXXXXX" beside its destination
// (created with O_EXCL and O_NOFOLLOW, so it never follows or reuses an existing file), open for
// reading and writing, renamed over the destination by commit(), so readers see the old file or
// the new one, never a part; a symlink at the destination is replaced, not followed. Removed
// when destroyed uncommitted, so it never outlives a failure. Errors are fleet::Error naming the
// destination, the step and the reason.
class PendingFile {
public:
  PendingFile(const std::filesystem::path& destination, mode_t creation_mode = 0644);
  PendingFile(const PendingFile&) = delete;
  PendingFile& operator=(const PendingFile&) = delete;
  ~PendingFile();

  int fd() const { return m_fd.get(); }

  // Appends `content` at the file's offset.
  void write(std::string_view content);

  // fsync(2): the content is on disk before commit() gives it its name.
  void sync();

  // Closes the file and renames it over the destination.
  void commit();

  // The error for `step` failing with the current errno.
  Error failure(const std::string& step) const;

private:
  std::filesystem::path m_destination;
  std::filesystem::path m_path;
  UniqueFd m_fd;
  bool m_committed = false;
};

// Writes `content` to a PendingFile for `path` and commits it.
void write_file_atomically(const std::filesystem::path& path, std::string_view content,
                           const AtomicWriteOptions& options = {});

// Sets the file's modification time to now; errors are ignored (it only orders pruning).
void touch_file(const std::filesystem::path& path);

}  // namespace fleet
