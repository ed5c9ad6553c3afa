// SPDX-License-Identifier: MIT
#include "builder/secrets/secret_file.hpp"

#include "uploader/base/error.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace fleet::builder::secrets {
namespace {

namespace fs = std::filesystem;

std::string errno_text() {
  return std::strerror(errno);
}

// Closes the descriptor and removes the temporary file unless it was renamed into place.
class TempFile {
public:
  TempFile(fs::path path, int fd) : m_path(std::move(path)), m_fd(fd) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    if (!m_committed) {
      ::unlink(m_path.c_str());
    }
  }
  int fd() const { return m_fd; }
  void commit(const fs::path& dest) {
    if (::fsync(m_fd) != 0 || ::close(m_fd) != 0) {
      m_fd = -1;
      throw Error("cannot write " + dest.string() + ": " + errno_text());
    }
    m_fd = -1;
    if (::rename(m_path.c_str(), dest.c_str()) != 0) {
      throw Error("cannot rename into " + dest.string() + ": " + errno_text());
    }
    m_committed = true;
    int dir = ::open(dest.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      ::fsync(dir);
      ::close(dir);
    }
  }

private:
  fs::path m_path;
  int m_fd;
  bool m_committed = false;
};

bool is_number(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

uid_t resolve_user(const std::string& owner) {
  if (is_number(owner)) {
    return static_cast<uid_t>(std::stoul(owner));
  }
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  if (getpwnam_r(owner.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
    throw Error("user '" + owner + "' does not exist on this host; create it or change the secret's owner");
  }
  return found->pw_uid;
}

gid_t resolve_group(const std::string& group, bool must_exist = true) {
  if (is_number(group)) {
    return static_cast<gid_t>(std::stoul(group));
  }
  std::vector<char> buffer(16384);
  struct group entry {};
  struct group* found = nullptr;
  if (getgrnam_r(group.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
    if (!must_exist) {
      return static_cast<gid_t>(-1);
    }
    throw Error("group '" + group + "' does not exist on this host; create it or change the secret's group");
  }
  return found->gr_gid;
}

void make_parent(const fs::path& dir, mode_t mode, bool keys_group) {
  if (fs::is_directory(dir)) {
    return;
  }
  make_parent(dir.parent_path(), mode, keys_group);
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
    throw Error("cannot create " + dir.string() + ": " + errno_text());
  }
  ::chmod(dir.c_str(), mode);  // mkdir applies the umask
  if (keys_group) {
    gid_t keys = resolve_group("keys", false);
    if (keys != static_cast<gid_t>(-1) && ::chown(dir.c_str(), static_cast<uid_t>(-1), keys) != 0) {
      throw Error("cannot give " + dir.string() + " to group keys: " + errno_text());
    }
  }
}

void write_atomically(const fs::path& dest, std::string_view content, uid_t uid, gid_t gid, mode_t mode) {
  std::string templ = (dest.parent_path() / ("." + dest.filename().string() + ".fleet-XXXXXX")).string();
  int fd = ::mkostemp(templ.data(), O_CLOEXEC);
  if (fd < 0) {
    throw Error("cannot create a temporary file beside " + dest.string() + ": " + errno_text());
  }
  TempFile temp(templ, fd);
  // Owner and mode first: the content must never be readable by anyone else, even briefly.
  if (::fchown(fd, uid, gid) != 0 || ::fchmod(fd, mode) != 0) {
    throw Error("cannot set owner and mode of " + dest.string() + ": " + errno_text());
  }
  for (std::size_t done = 0; done < content.size();) {
    auto n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      throw Error("cannot write " + dest.string() + ": " + errno_text());
    }
    done += static_cast<std::size_t>(n);
  }
  temp.commit(dest);
}

}  // namespace

void write_secret_file(const protocol::JobSecret& spec, std::string_view content) {
  fs::path dest(spec.dest);
  uid_t uid = resolve_user(spec.owner);
  gid_t gid = resolve_group(spec.group);
  make_parent(dest.parent_path(), 0750, true);
  if (fs::is_directory(fs::symlink_status(dest))) {
    throw Error(spec.dest + " is a directory");
  }
  write_atomically(dest, content, uid, gid, static_cast<mode_t>(protocol::parse_octal_mode(spec.mode)));
}

void write_private_file(const fs::path& path, std::string_view content) {
  make_parent(path.parent_path(), 0700, false);
  write_atomically(path, content, ::geteuid(), ::getegid(), 0600);
}

}  // namespace fleet::builder::secrets
