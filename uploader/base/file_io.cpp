// SPDX-License-Identifier: MIT
#include "uploader/base/file_io.hpp"


#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

namespace fleet {

namespace fs = std::filesystem;

namespace {

std::string random_suffix(std::random_device& random) {
  static constexpr char k_letters[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string suffix(6, '\0');
  for (char& c : suffix) {
    c = k_letters[random() % (sizeof k_letters - 1)];
  }
  return suffix;
}

// After the rename the new content is in place, so a directory that cannot be synced is not
// reported: the caller could do nothing better than what is already there.
void sync_directory(const fs::path& directory) {
  UniqueFd dir(::open(directory.empty() ? "." : directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid()) {
    ::fsync(dir.get());
  }
}

}  // namespace

PendingFile::PendingFile(const fs::path& destination, mode_t creation_mode) : m_destination(destination) {
  std::random_device random;
  const std::string directory = destination.parent_path().empty() ? "." : destination.parent_path().string();
  // O_EXCL makes a name clash, or a planted symlink, a retry rather than a shared file.
  for (int attempt = 0; attempt < 100 && !m_fd.valid(); ++attempt) {
    m_path = destination.parent_path() / ("." + destination.filename().string() + ".tmp-" + random_suffix(random));
    m_fd.reset(::open(m_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, creation_mode));
    if (!m_fd.valid() && errno != EEXIST) {
      throw Error("cannot write '" + destination.string() + "': cannot create a temporary file beside it: " +
                  std::strerror(errno) + "; check that " + directory + " exists and that you may write there");
    }
  }
  if (!m_fd.valid()) {
    throw Error("cannot write '" + destination.string() + "': every temporary name beside it is taken");
  }
}

PendingFile::~PendingFile() {
  if (!m_committed) {
    ::unlink(m_path.c_str());
  }
}

void PendingFile::write(std::string_view content) {
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(m_fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      if (n == 0) {
        errno = EIO;
      }
      throw failure("write");
    }
    done += static_cast<std::size_t>(n);
  }
}

void PendingFile::sync() {
  if (::fsync(m_fd.get()) != 0) {
    throw failure("fsync");
  }
}

void PendingFile::commit() {
  if (!m_fd.close()) {
    throw failure("close");
  }
  if (::rename(m_path.c_str(), m_destination.c_str()) != 0) {
    throw failure("rename");
  }
  m_committed = true;
}

Error PendingFile::failure(const std::string& step) const {
  const int error = errno;
  const bool full = error == ENOSPC || error == EDQUOT;
  return Error("cannot write '" + m_destination.string() + "': " + step + ": " + std::strerror(error) +
               (full ? " (disk full?)" : ""));
}

std::optional<std::string> read_whole_file(const fs::path& path) {
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return std::nullopt;
  }
  std::string content;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return std::nullopt;
  }
  // The announced size and one byte more, which shows the end without growing (and so
  // copying) the buffer; only a file that grew since fstat makes it grow.
  content.resize(static_cast<std::size_t>(st.st_size) + 1);
  std::size_t done = 0;
  for (;;) {
    const ssize_t n = read_fully(fd.get(), content.data() + done, content.size() - done);
    if (n < 0) {
      return std::nullopt;
    }
    done += static_cast<std::size_t>(n);
    if (done < content.size()) {
      break;
    }
    content.resize(content.size() + 4096);
  }
  content.resize(done);
  return content;
}

ssize_t read_fully(int fd, char* buffer, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, buffer + done, size - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return -1;
    }
    if (n == 0) {
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

void write_file_atomically(const fs::path& path, std::string_view content, const AtomicWriteOptions& options) {
  const fs::path directory = path.parent_path();
  if (options.missing_directories == MissingDirectories::create && !directory.empty()) {
    std::error_code ec;
    fs::create_directories(directory, ec);
    if (ec) {
      throw Error("cannot write '" + path.string() + "': cannot create its directory: " + ec.message());
    }
  }
  const bool exact = options.permissions == Permissions::exact;
  // Exact permissions start private and widen once the owner is set, so no other user can
  // ever open the file in between.
  PendingFile file(path, exact ? 0600 : options.mode);
  if (options.owner) {
    const std::string step =
        "set its owner to " + std::to_string(options.owner->uid) + ":" + std::to_string(options.owner->gid);
    if (::fchown(file.fd(), options.owner->uid, options.owner->gid) != 0) {
      throw file.failure(step);
    }
  }
  if (exact && ::fchmod(file.fd(), options.mode) != 0) {
    throw file.failure("set its mode");
  }
  file.write(content);
  if (options.durability != Durability::none) {
    file.sync();
  }
  file.commit();
  if (options.durability == Durability::file_and_directory) {
    sync_directory(directory);
  }
}

void touch_file(const fs::path& path) { ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0); }

}  // namespace fleet
