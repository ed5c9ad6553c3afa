// SPDX-License-Identifier: MIT
#include "builder/secrets/secret_file.hpp"

#include "uploader/base/error.hpp"
#include "uploader/base/file_io.hpp"

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

// Owner and mode come before any byte, so the content is never readable by anyone else, even
// briefly; the directory is synced too, so an installed secret does not vanish in a crash.
void write_atomically(const fs::path& dest, std::string_view content, FileOwner owner, mode_t mode) {
  write_file_atomically(dest, content,
                        {.mode = mode,
                         .permissions = Permissions::exact,
                         .owner = owner,
                         .durability = Durability::file_and_directory,
                         .missing_directories = MissingDirectories::fail});
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
  write_atomically(dest, content, {uid, gid}, static_cast<mode_t>(protocol::parse_octal_mode(spec.mode)));
}

void write_private_file(const fs::path& path, std::string_view content) {
  make_parent(path.parent_path(), 0700, false);
  write_atomically(path, content, {::geteuid(), ::getegid()}, 0600);
}

}  // namespace fleet::builder::secrets
