// SPDX-License-Identifier: MIT
// The one atomic writer, on a real temp directory.
#include "uploader/base/error.hpp"
#include "uploader/base/file_io.hpp"

#include "support/temp_dir.hpp"
#include "support/tree.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

using namespace fleet;
using fleet::test::read_file;
using fleet::test::TempDir;
using fleet::test::write_file;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  return names;
}

struct stat status_of(const fs::path& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st;
}

// Sets the process umask for one test and restores it; the unit tests run on one thread.
class ScopedUmask {
public:
  explicit ScopedUmask(mode_t mask) : m_previous(::umask(mask)) {}
  ScopedUmask(const ScopedUmask&) = delete;
  ScopedUmask& operator=(const ScopedUmask&) = delete;
  ~ScopedUmask() { ::umask(m_previous); }

private:
  mode_t m_previous;
};

}  // namespace

TEST_CASE("write_file_atomically replaces the file whole and leaves no temporary behind") {
  TempDir dir;
  const fs::path path = dir / "a" / "b" / "file.json";

  SECTION("creates the directories and the file, 0644 minus the umask") {
    const ScopedUmask mask(027);
    write_file_atomically(path, "first");
    CHECK(read_file(path) == "first");
    CHECK((status_of(path).st_mode & 07777) == 0640);
    write_file_atomically(path, "second, longer");
    CHECK(read_file(path) == "second, longer");
    CHECK(entries(path.parent_path()) == std::vector<std::string>{"file.json"});
  }
  SECTION("exact permissions ignore the umask") {
    const ScopedUmask mask(077);
    write_file_atomically(path, "x", {.mode = 0644,
                                      .permissions = Permissions::exact,
                                      .owner = std::nullopt,
                                      .durability = Durability::file_and_directory,
                                      .missing_directories = MissingDirectories::create});
    CHECK((status_of(path).st_mode & 07777) == 0644);
  }
  SECTION("the owner is set") {
    // 65534 is nobody on Debian; changing the owner needs root, which the unit tests run as.
    const FileOwner nobody{65534, 65534};
    write_file_atomically(path, "secret", {.mode = 0400,
                                           .permissions = Permissions::exact,
                                           .owner = nobody,
                                           .durability = Durability::file,
                                           .missing_directories = MissingDirectories::create});
    const auto st = status_of(path);
    CHECK(st.st_uid == nobody.uid);
    CHECK(st.st_gid == nobody.gid);
    CHECK((st.st_mode & 07777) == 0400);
    CHECK(read_file(path) == "secret");
  }
  SECTION("a symlink at the destination is replaced, not followed") {
    const fs::path victim = dir / "victim";
    write_file(victim, "untouched");
    fs::create_directories(path.parent_path());
    fs::create_symlink(victim, path);
    write_file_atomically(path, "new");
    CHECK(read_file(victim) == "untouched");
    CHECK(S_ISREG(status_of(path).st_mode));
    CHECK(read_file(path) == "new");
  }
  SECTION("a missing directory fails when it must exist, naming the path and what to check") {
    AtomicWriteOptions options;
    options.missing_directories = MissingDirectories::fail;
    CHECK_THROWS_WITH(write_file_atomically(path, "x", options),
                      Catch::StartsWith("cannot write '" + path.string() + "'") &&
                          Catch::Contains("check that " + path.parent_path().string() + " exists"));
    CHECK_FALSE(fs::exists(dir / "a"));
  }
  SECTION("a directory in the way fails and leaves only what was there") {
    fs::create_directories(path);
    CHECK_THROWS_WITH(write_file_atomically(path, "x"), Catch::Contains("rename: Is a directory"));
    CHECK(entries(path.parent_path()) == std::vector<std::string>{"file.json"});
  }
}
