// SPDX-License-Identifier: MIT
#include "support/temp_dir.hpp"
#include "support/tree.hpp"
#include "uploader/base/error.hpp"
#include "uploader/hash/sha256.hpp"
#include "uploader/tarball/source_set.hpp"
#include "uploader/tarball/tarball_reader.hpp"
#include "uploader/tarball/tarball_writer.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <thread>

using namespace fleet;
using namespace fleet::tarball;
using fleet::test::list_tree;
using fleet::test::TempDir;
using fleet::test::write_file;
namespace fs = std::filesystem;

namespace {

// A small configuration-like tree with the cases the format has to keep.
void make_sample_tree(const fs::path& root) {
  write_file(root / "flake.nix", "{ outputs = _: {}; }\n");
  write_file(root / "hosts/web/configuration.nix", "{ ... }: { }\n");
  write_file(root / "scripts/deploy.sh", "#!/bin/sh\necho hi\n", 0755);
  write_file(root / "secrets/db.age", std::string("age\0binary\xff", 11));
  write_file(root / "empty", "");
  write_file(root / "h\xc3\xa9llo.txt", "utf-8 name\n");
  write_file(root / std::string(60, 'd') / std::string(70, 'f'), "long name\n");
  fs::create_directories(root / "emptydir");
  fs::create_symlink("hosts/web", root / "web");
  fs::create_symlink("/nix/store/does-not-exist", root / "dangling");
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_directory() && !entry.is_symlink()) {
      fs::permissions(entry.path(), static_cast<fs::perms>(0755));
    }
  }
}

PackedTarball pack_dir(const fs::path& root, const std::vector<std::string>& exclude = {}) {
  return pack(collect_sources(root, exclude));
}

int open_string_as_file(const TempDir& tmp, const std::string& bytes) {
  const fs::path file = tmp / "stream.tar.zst";
  write_file(file, bytes);
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  return fd;
}

}  // namespace

TEST_CASE("sha256 matches the published test vectors") {
  CHECK(hash::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(hash::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  hash::Sha256 incremental;
  incremental.update("a", 1);
  incremental.update("bc", 2);
  CHECK(incremental.hex_digest() == hash::sha256_hex("abc"));
}

TEST_CASE("collect_sources lists sorted relative paths and honours excludes") {
  TempDir tmp;
  const fs::path root = tmp / "src";
  make_sample_tree(root);
  write_file(root / ".git/HEAD", "ref\n");
  write_file(root / "result/x", "out\n");
  write_file(root / "hosts/.web.swp", "swap\n");
  write_file(root / "secrets/plain/key", "plaintext\n");
  write_file(root / "docs/secrets/plain/key", "not anchored\n");
  ::mkfifo((root / "fifo").c_str(), 0644);

  const auto set = collect_sources(root, {".git", "result", "*.swp", "secrets/plain/*"});
  CHECK(std::is_sorted(set.paths.begin(), set.paths.end()));
  auto has = [&](const std::string& p) { return std::find(set.paths.begin(), set.paths.end(), p) != set.paths.end(); };
  CHECK(has("hosts"));
  CHECK(has("hosts/web/configuration.nix"));
  CHECK(has("web"));
  CHECK(has("dangling"));
  CHECK(has("emptydir"));
  CHECK(has("secrets/plain"));
  CHECK(has("docs/secrets/plain/key"));
  CHECK_FALSE(has(".git"));
  CHECK_FALSE(has(".git/HEAD"));
  CHECK_FALSE(has("result"));
  CHECK_FALSE(has("result/x"));
  CHECK_FALSE(has("hosts/.web.swp"));
  CHECK_FALSE(has("secrets/plain/key"));
  CHECK_FALSE(has("fifo"));
  CHECK_FALSE(has("web/configuration.nix"));  // the symlink is not followed

  CHECK_THROWS_AS(collect_sources(tmp / "missing", {}), ConfigError);
  CHECK_THROWS_WITH(collect_sources(tmp / "missing", {}), Catch::Contains("missing"));
}

TEST_CASE("pack is deterministic and ignores metadata that is not content") {
  TempDir tmp;
  const fs::path root = tmp / "src";
  make_sample_tree(root);
  const auto first = pack_dir(root);
  const auto second = pack_dir(root);
  REQUIRE(first.content_hash.size() == 64);
  CHECK(first.compressed == second.compressed);
  CHECK(first.content_hash == second.content_hash);
  CHECK(first.file_count == collect_sources(root, {}).paths.size());
  CHECK(first.tar_size % 512 == 0);

  SECTION("mtimes, group/other bits and extra x bits do not matter") {
    const struct timeval times[2] = {{12345, 0}, {12345, 0}};
    ::lutimes((root / "flake.nix").c_str(), times);
    ::lutimes((root / "web").c_str(), times);
    ::lutimes((root / "hosts").c_str(), times);
    fs::permissions(root / "flake.nix", static_cast<fs::perms>(0600));
    fs::permissions(root / "scripts/deploy.sh", static_cast<fs::perms>(0500));
    fs::permissions(root / "hosts", static_cast<fs::perms>(0700));
    if (::geteuid() == 0) {
      REQUIRE(::lchown((root / "flake.nix").c_str(), 1234, 1234) == 0);
    }
    const auto again = pack_dir(root);
    CHECK(again.compressed == first.compressed);
    CHECK(again.content_hash == first.content_hash);
  }
  SECTION("one changed byte changes the hash") {
    write_file(root / "flake.nix", "{ outputs = _: {}; }\r");
    CHECK(pack_dir(root).content_hash != first.content_hash);
  }
  SECTION("losing the executable bit changes the hash") {
    fs::permissions(root / "scripts/deploy.sh", static_cast<fs::perms>(0644));
    CHECK(pack_dir(root).content_hash != first.content_hash);
  }
  SECTION("excluded files do not reach the tarball") {
    write_file(root / "result/big", std::string(1000, 'x'));
    write_file(root / "notes.swp", "swap");
    CHECK(pack_dir(root, {"result", "*.swp"}).compressed == first.compressed);
  }
}

TEST_CASE("pack then unpack reproduces the tree") {
  TempDir tmp;
  const fs::path root = tmp / "src";
  make_sample_tree(root);
  const auto packed = pack_dir(root);
  const fs::path dest = tmp / "out/dest";
  fs::create_directories(dest.parent_path());

  UnpackResult result;
  SECTION("from a file") {
    const int fd = open_string_as_file(tmp, packed.compressed);
    result = unpack(fd, dest, packed.content_hash);
    ::close(fd);
  }
  SECTION("from a pipe written in small pieces") {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    std::thread writer([&] {
      for (std::size_t at = 0; at < packed.compressed.size(); at += 1000) {
        const std::size_t n = std::min<std::size_t>(1000, packed.compressed.size() - at);
        if (::write(fds[1], packed.compressed.data() + at, n) != static_cast<ssize_t>(n)) {
          break;
        }
      }
      ::close(fds[1]);
    });
    result = unpack(fds[0], dest, packed.content_hash);
    writer.join();
    ::close(fds[0]);
  }
  CHECK(result.content_hash == packed.content_hash);
  CHECK(result.tar_size == packed.tar_size);
  CHECK(result.entries == packed.file_count);
  // The same tree, but read-only: a file may be hardlinked into the next tree unpacked.
  std::string read_only = list_tree(root);
  for (auto [from, to] : {std::pair{" file 644 ", " file 444 "}, std::pair{" file 755 ", " file 555 "}}) {
    for (auto at = read_only.find(from); at != std::string::npos; at = read_only.find(from, at)) {
      read_only.replace(at, std::string(from).size(), to);
    }
  }
  CHECK(list_tree(dest) == read_only);
  CHECK(fs::read_symlink(dest / "web") == "hosts/web");
  CHECK((fs::status(dest / "scripts/deploy.sh").permissions() & fs::perms::all) == static_cast<fs::perms>(0555));
  CHECK((fs::status(dest).permissions() & fs::perms::all) == static_cast<fs::perms>(0755));
  CHECK(std::distance(fs::directory_iterator(dest.parent_path()), fs::directory_iterator()) == 1);

  // A second unpack into the same place is refused before reading anything.
  const int fd = open_string_as_file(tmp, packed.compressed);
  CHECK_THROWS_AS(unpack(fd, dest, packed.content_hash), DestinationExists);
  CHECK(::lseek(fd, 0, SEEK_CUR) == 0);
  ::close(fd);
}

TEST_CASE("a 3,000-file 20 MB tree packs and unpacks") {
  TempDir tmp;
  const fs::path root = tmp / "src";
  std::string content;
  for (int i = 0; i < 3000; ++i) {
    content.assign(7000, '\0');
    for (std::size_t j = 0; j < content.size(); ++j) {
      content[j] = static_cast<char>('a' + (i * 31 + static_cast<int>(j) * (j % 7 == 0 ? 13 : 1)) % 26);
    }
    write_file(root / ("d" + std::to_string(i % 50)) / ("file" + std::to_string(i) + ".nix"), content);
  }
  const auto packed = pack_dir(root);
  CHECK(packed.file_count == 3050);
  CHECK(packed.tar_size > 3000u * 7000u);
  CHECK(packed.tar_size < 3000u * 7000u + 3050u * 1024u + 2048u);
  CHECK(packed.compressed.size() < packed.tar_size / 4);
  CHECK(packed.compressed.size() > 1000);

  const int fd = open_string_as_file(tmp, packed.compressed);
  const auto result = unpack(fd, tmp / "dest", packed.content_hash);
  ::close(fd);
  CHECK(result.entries == 3050);
  CHECK(result.content_hash == packed.content_hash);
}

TEST_CASE("a write the filesystem refuses says why and leaves no partial tree") {
  TempDir tmp;
  write_file(tmp / "src/big", std::string(1 << 20, 'x'));
  const auto packed = pack_dir(tmp / "src");
  const int fd = open_string_as_file(tmp, packed.compressed);
  fs::create_directories(tmp / "out");
  // In a child: a file size limit stands in for a full disk (EFBIG where that is ENOSPC).
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{64 << 10, 64 << 10};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    try {
      unpack(fd, tmp / "out/dest", packed.content_hash);
    } catch (const Error& e) {
      ::_exit(std::string_view(e.what()).find("cannot write 'big' while unpacking") != std::string_view::npos &&
                      std::string_view(e.what()).find(std::strerror(EFBIG)) != std::string_view::npos
                  ? 0
                  : 1);
    }
    ::_exit(2);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  ::close(fd);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(fs::is_empty(tmp / "out"));
}
