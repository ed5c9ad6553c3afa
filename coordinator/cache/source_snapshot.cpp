// SPDX-License-Identifier: MIT
#include "coordinator/cache/source_snapshot.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

namespace fleet::coordinator {

namespace {

std::int64_t nanoseconds(const struct timespec& t) {
  return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + static_cast<std::int64_t>(t.tv_nsec);
}

// Paths and link targets never hold NUL, so NUL-terminated fields cannot be confused.
void add_field(std::string& out, const std::string& field) {
  out += field;
  out += '\0';
}

}  // namespace

std::optional<SourceSnapshot> snapshot_sources(const tarball::SourceSet& sources) {
  SourceSnapshot snapshot;
  const std::string root = std::filesystem::absolute(sources.root).lexically_normal().string();
  snapshot.text.reserve(64 * sources.paths.size() + 256);
  add_field(snapshot.text, root);
  std::string full;
  std::string target;
  for (const std::string& relative : sources.paths) {
    full.assign(root).append("/").append(relative);
    struct stat st {};
    if (::lstat(full.c_str(), &st) != 0) {
      return std::nullopt;
    }
    if (S_ISDIR(st.st_mode)) {
      // A directory's tar entry is its name alone (mode 0755, mtime 0).
      snapshot.text += 'd';
      add_field(snapshot.text, relative);
    } else if (S_ISLNK(st.st_mode)) {
      // Comparing the target itself leaves no timestamp race to worry about.
      target.resize(static_cast<std::size_t>(st.st_size) + 1);
      const ssize_t n = ::readlink(full.c_str(), target.data(), target.size());
      if (n < 0 || static_cast<std::size_t>(n) >= target.size()) {
        return std::nullopt;
      }
      target.resize(static_cast<std::size_t>(n));
      snapshot.text += 'l';
      add_field(snapshot.text, relative);
      add_field(snapshot.text, target);
    } else if (S_ISREG(st.st_mode)) {
      const std::int64_t mtime = nanoseconds(st.st_mtim);
      const std::int64_t ctime = nanoseconds(st.st_ctim);
      snapshot.newest_change_ns = std::max({snapshot.newest_change_ns, mtime, ctime});
      snapshot.text += 'f';
      add_field(snapshot.text, relative);
      add_field(snapshot.text, std::to_string(st.st_mode) + ' ' + std::to_string(st.st_size) + ' ' +
                                   std::to_string(mtime) + ' ' + std::to_string(ctime) + ' ' +
                                   std::to_string(st.st_ino) + ' ' + std::to_string(st.st_dev));
    } else {
      return std::nullopt;
    }
  }
  return snapshot;
}

}  // namespace fleet::coordinator
