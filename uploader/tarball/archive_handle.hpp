// SPDX-License-Identifier: MIT
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <cstring>

#include <memory>
#include <string>

namespace fleet::tarball {

struct ArchiveReadFree {
  void operator()(archive* a) const noexcept { archive_read_free(a); }
};
struct ArchiveWriteFree {
  void operator()(archive* a) const noexcept { archive_write_free(a); }
};
struct ArchiveEntryFree {
  void operator()(archive_entry* e) const noexcept { archive_entry_free(e); }
};

// Owns an archive_read_new() handle.
using ArchiveReader = std::unique_ptr<archive, ArchiveReadFree>;
// Owns an archive_write_new() or archive_write_disk_new() handle.
using ArchiveWriter = std::unique_ptr<archive, ArchiveWriteFree>;
// Owns an archive_entry_new() object.
using ArchiveEntry = std::unique_ptr<archive_entry, ArchiveEntryFree>;

// libarchive's last error message for `a`, or a placeholder when it has none.
inline std::string archive_error_text(archive* a) {
  const char* text = archive_error_string(a);
  return text != nullptr ? text : "unknown libarchive error";
}

// As archive_error_text(), for a failed write to disk: with the system's reason, which
// libarchive leaves out of some messages ("Write failed" for a full disk).
inline std::string disk_error_text(archive* a) {
  std::string text = archive_error_text(a);
  if (const int code = archive_errno(a); code > 0) {
    const std::string reason = std::strerror(code);
    if (text.find(reason) == std::string::npos) {
      text += ": " + reason;
    }
  }
  return text;
}

}  // namespace fleet::tarball
