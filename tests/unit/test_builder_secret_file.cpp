// SPDX-License-Identifier: MIT
#include "builder/secrets/secret_file.hpp"
#include "uploader/base/file_io.hpp"
#include "uploader/base/scratch_dir.hpp"

#include <catch2/catch.hpp>

#include <fstream>

#include <sys/stat.h>
#include <unistd.h>

using namespace fleet;
namespace fs = std::filesystem;

namespace {

protocol::JobSecret secret_at(const fs::path& dest) {
  protocol::JobSecret spec;
  spec.name = "db";
  spec.dest = dest.string();
  spec.owner = std::to_string(::geteuid());
  spec.group = std::to_string(::getegid());
  spec.mode = "0400";
  return spec;
}

}  // namespace

TEST_CASE("a secret's directory is created, and trusted symlinks on the way are followed") {
  auto scratch = ScratchDir::create_in(fs::temp_directory_path(), "fleet-secret-file-");
  const fs::path root = scratch.path();
  fs::create_directory(root / "real");
  fs::create_directory_symlink("real", root / "keys");
  builder::secrets::write_secret_file(secret_at(root / "keys" / "app" / "db"), "hunter2");
  CHECK(read_whole_file(root / "real" / "app" / "db") == "hunter2");
  CHECK((fs::status(root / "real" / "app").permissions() & fs::perms::all) == fs::perms(0750));
  CHECK((fs::status(root / "real" / "app" / "db").permissions() & fs::perms::all) == fs::perms(0400));
}

TEST_CASE("no secret is written where another user could redirect it") {
  auto scratch = ScratchDir::create_in(fs::temp_directory_path(), "fleet-secret-file-");
  const fs::path root = scratch.path();
  const fs::path shared = root / "shared";  // a directory everyone may write, not sticky
  fs::create_directory(shared);
  fs::permissions(shared, fs::perms(0777));
  fs::create_directory(root / "elsewhere");

  SECTION("a symlink in it") {
    fs::create_directory_symlink(root / "elsewhere", shared / "app");
    CHECK_THROWS_WITH(builder::secrets::write_secret_file(secret_at(shared / "app" / "db"), "hunter2"),
                      Catch::Contains("may be changed by users other than root") && Catch::Contains("/shared/app"));
  }
  SECTION("a directory in it") {
    fs::create_directory(shared / "app");
    CHECK_THROWS_WITH(builder::secrets::write_secret_file(secret_at(shared / "app" / "db"), "hunter2"),
                      Catch::Contains("could lead anywhere"));
  }
  SECTION("a directory to create in it") {
    CHECK_THROWS_WITH(builder::secrets::write_secret_file(secret_at(shared / "app" / "db"), "hunter2"),
                      Catch::Contains("will not create") && Catch::Contains("/shared/app"));
    CHECK_FALSE(fs::exists(shared / "app"));
  }
  SECTION("a symlink to it, from a trusted place") {
    fs::create_directory_symlink(shared, root / "link");
    fs::create_directory(shared / "app");
    CHECK_THROWS_WITH(builder::secrets::write_secret_file(secret_at(root / "link" / "app" / "db"), "hunter2"),
                      Catch::Contains("could lead anywhere"));
  }
  CHECK(fs::is_empty(root / "elsewhere"));

  SECTION("the secret itself may sit in such a directory: it replaces its name there") {
    builder::secrets::write_secret_file(secret_at(shared / "db"), "hunter2");
    CHECK(read_whole_file(shared / "db") == "hunter2");
  }
}

TEST_CASE("a component that is not a directory is named") {
  auto scratch = ScratchDir::create_in(fs::temp_directory_path(), "fleet-secret-file-");
  std::ofstream(scratch.path() / "file") << "x";
  CHECK_THROWS_WITH(builder::secrets::write_secret_file(secret_at(scratch.path() / "file" / "db"), "hunter2"),
                    Catch::Contains("/file is not a directory"));
}
