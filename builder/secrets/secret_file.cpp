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
#include <deque>
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

// Whether `uid` may have made what fleet finds on the way to a secret: root, or whoever runs
// fleet-builder (the same, except in tests).
bool trusted_owner(uid_t uid) {
  return uid == 0 || uid == ::geteuid();
}

// Whether an entry of directory `dir` (lstat: `entry`) can have been put there by no one but a
// trusted owner: `dir` is trusted and writable by its owner alone, or sticky (like /tmp) with
// `entry` trusted, which then no one else may rename or remove.
bool safe_entry(const struct stat& dir, const struct stat& entry) {
  if (!trusted_owner(dir.st_uid)) {
    return false;
  }
  if ((dir.st_mode & (S_IWGRP | S_IWOTH)) == 0) {
    return true;
  }
  return (dir.st_mode & S_ISVTX) != 0 && trusted_owner(entry.st_uid);
}

struct stat lstat_of(const fs::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    throw Error("cannot look at " + path.string() + ": " + errno_text());
  }
  return st;
}

void create_directory(const fs::path& dir, mode_t mode, bool keys_group) {
  if (::mkdir(dir.c_str(), mode) != 0) {
    if (errno == EEXIST) {
      return;  // made meanwhile: looked at like any other entry
    }
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

// The directory `dir` (absolute) names, created where missing (`mode`, group keys if asked),
// resolved one component at a time like the kernel does, but refusing any step another user
// could redirect: a symlink or directory in a directory that someone other than root may write
// would let them point root's write of a secret anywhere (over /etc/shadow, say). The directory
// returned may belong to anyone: the secret replaces its name there by a rename, which follows
// no symlink.
fs::path safe_directory(const fs::path& dir, mode_t mode, bool keys_group) {
  std::deque<std::string> todo;
  for (const auto& part : dir.relative_path()) {
    todo.push_back(part.string());
  }
  fs::path resolved = "/";
  int links = 0;
  while (!todo.empty()) {
    const std::string name = todo.front();
    todo.pop_front();
    if (name.empty() || name == ".") {
      continue;
    }
    if (name == "..") {
      resolved = resolved.parent_path();
      continue;
    }
    const fs::path next = resolved / name;
    const struct stat parent = lstat_of(resolved);
    struct stat entry {};
    if (::lstat(next.c_str(), &entry) != 0) {
      if (errno != ENOENT) {
        throw Error("cannot look at " + next.string() + ": " + errno_text());
      }
      // What we create there is trusted: creating is safe where such an entry would be.
      if (!safe_entry(parent, parent)) {
        throw Error("will not create " + next.string() + " in " + resolved.string() +
                    ", which users other than root may change; create it as root, or put the secret elsewhere");
      }
      create_directory(next, mode, keys_group);
      entry = lstat_of(next);
    }
    if (!safe_entry(parent, entry)) {
      throw Error(resolved.string() + " may be changed by users other than root, so " + next.string() +
                  " could lead anywhere; put the secret in a directory only root can change (such as /run/keys)");
    }
    if (S_ISLNK(entry.st_mode)) {
      if (++links > 40) {
        throw Error("too many symlinks on the way to " + dir.string());
      }
      const fs::path target = fs::read_symlink(next);
      std::vector<std::string> parts;
      for (const auto& part : target.relative_path()) {
        parts.push_back(part.string());
      }
      todo.insert(todo.begin(), parts.begin(), parts.end());
      if (target.is_absolute()) {
        resolved = "/";
      }
      continue;
    }
    if (!S_ISDIR(entry.st_mode)) {
      throw Error(next.string() + " is not a directory");
    }
    resolved = next;
  }
  return resolved;
}

void make_private_dirs(const fs::path& dir) {
  if (dir.empty() || fs::is_directory(dir)) {
    return;
  }
  make_private_dirs(dir.parent_path());
  create_directory(dir, 0700, false);
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
  const fs::path file = safe_directory(dest.parent_path(), 0750, true) / dest.filename();
  if (fs::is_directory(fs::symlink_status(file))) {
    throw Error(spec.dest + " is a directory");
  }
  write_atomically(file, content, {uid, gid}, static_cast<mode_t>(protocol::parse_octal_mode(spec.mode)));
}

void write_private_file(const fs::path& path, std::string_view content) {
  // Not walked like a secret's way: the agent's state directory belongs to root or to the user
  // fleet deploys as, who may activate any system as root anyway, so it has no one to guard
  // against (and the deploy user owns /var/lib/fleet on a node it deploys to without root).
  make_private_dirs(path.parent_path());
  write_atomically(path, content, {::geteuid(), ::getegid()}, 0600);
}

}  // namespace fleet::builder::secrets
