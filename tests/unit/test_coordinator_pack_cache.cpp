// SPDX-License-Identifier: MIT
#include "coordinator/cache/pack_cache.hpp"
#include "coordinator/cache/source_snapshot.hpp"
#include "coordinator/cache/tarball_cache.hpp"
#include "support/scoped_env.hpp"
#include "support/temp_dir.hpp"
#include "support/tree.hpp"
#include "uploader/hash/sha256.hpp"
#include "uploader/tarball/source_set.hpp"
#include "uploader/tarball/tarball_writer.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <ctime>

using namespace fleet;
using namespace fleet::coordinator;
using fleet::test::ScopedEnv;
using fleet::test::TempDir;
using fleet::test::write_file;
namespace fs = std::filesystem;

namespace {

std::int64_t now_ns() {
  struct timespec t {};
  ::clock_gettime(CLOCK_REALTIME, &t);
  return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

// A clock far enough ahead that every file just written counts as settled.
std::int64_t settled_clock() { return now_ns() + 60'000'000'000; }

void make_tree(const fs::path& root) {
  write_file(root / "flake.nix", "{ outputs = _: {}; }\n");
  write_file(root / "hosts/web/configuration.nix", "{ ... }: { }\n");
  write_file(root / "scripts/deploy.sh", "#!/bin/sh\necho hi\n", 0755);
  fs::create_symlink("hosts/web", root / "web");
}

void set_mtime(const fs::path& path, std::time_t seconds) {
  struct timespec times[2] = {{seconds, 0}, {seconds, 0}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
}

struct Fixture {
  TempDir tmp;
  fs::path root = tmp / "src";
  TarballCache tarballs{tmp / "cache"};
  PackCache cache{tarballs, settled_clock};

  Fixture() { make_tree(root); }
  PackOutcome pack() { return cache.pack(tarball::collect_sources(root, {})); }
  tarball::PackedTarball fresh() { return tarball::pack(tarball::collect_sources(root, {})); }
};

void check_same(const tarball::PackedTarball& a, const tarball::PackedTarball& b) {
  CHECK(a.content_hash == b.content_hash);
  CHECK(a.compressed == b.compressed);
  CHECK(a.tar_size == b.tar_size);
  CHECK(a.file_count == b.file_count);
}

}  // namespace

TEST_CASE("an unchanged tree is taken from the cache, byte for byte what a fresh pack gives") {
  Fixture f;
  auto first = f.pack();
  CHECK_FALSE(first.from_cache);
  auto second = f.pack();
  CHECK(second.from_cache);
  check_same(second.packed, f.fresh());
  check_same(second.packed, first.packed);
}

TEST_CASE("every change the tar could show forces a repack") {
  Fixture f;
  const auto before = f.pack();
  REQUIRE(f.pack().from_cache);

  SECTION("changed content and mtime") {
    write_file(f.root / "flake.nix", "{ outputs = _: { x = 1; }; }\n");
    set_mtime(f.root / "flake.nix", 1'000'000);
  }
  SECTION("same size, mtime put back: the ctime gives it away") {
    struct stat st {};
    REQUIRE(::stat((f.root / "flake.nix").c_str(), &st) == 0);
    write_file(f.root / "flake.nix", "{ outputs = _: {}; }\t");
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    REQUIRE(::utimensat(AT_FDCWD, (f.root / "flake.nix").c_str(), times, 0) == 0);
  }
  SECTION("renamed file") {
    fs::rename(f.root / "flake.nix", f.root / "flake2.nix");
  }
  SECTION("new file") {
    write_file(f.root / "hosts/web/extra.nix", "{ }\n");
  }
  SECTION("new empty directory") {
    fs::create_directory(f.root / "hosts/db");
  }
  SECTION("mode change") {
    fs::permissions(f.root / "flake.nix", static_cast<fs::perms>(0755));
  }
  SECTION("symlink retargeted") {
    fs::remove(f.root / "web");
    fs::create_symlink("hosts/wxb", f.root / "web");
  }
  SECTION("file replaced by a symlink to the same content") {
    fs::remove(f.root / "flake.nix");
    write_file(f.root / "real.nix", "{ outputs = _: {}; }\n");
    fs::create_symlink("real.nix", f.root / "flake.nix");
  }
  auto after = f.pack();
  CHECK_FALSE(after.from_cache);
  CHECK(after.packed.content_hash != before.packed.content_hash);
  check_same(after.packed, f.fresh());
  CHECK(f.pack().from_cache);
}

TEST_CASE("a file changed within the racy window of the manifest is repacked") {
  TempDir tmp;
  make_tree(tmp / "src");
  TarballCache tarballs(tmp / "cache");
  PackCache real_time(tarballs);  // the files were written just now: too fresh to trust
  const auto sources = tarball::collect_sources(tmp / "src", {});
  CHECK_FALSE(real_time.pack(sources).from_cache);
  CHECK_FALSE(real_time.pack(sources).from_cache);

  // The manifest's own time decides: one taken 1 s after the newest change is still untrusted.
  auto snapshot = snapshot_sources(sources);
  REQUIRE(snapshot);
  PackCache just_after(tarballs, [&] { return snapshot->newest_change_ns + 1'000'000'000; });
  CHECK_FALSE(just_after.pack(sources).from_cache);
  PackCache later(tarballs, [&] { return snapshot->newest_change_ns + 3'000'000'000; });
  CHECK_FALSE(later.pack(sources).from_cache);  // still the 1 s manifest: a repack writes a new one
  CHECK(later.pack(sources).from_cache);
}

TEST_CASE("a corrupt or missing cache entry is ignored and repacked") {
  Fixture f;
  const auto first = f.pack();
  const fs::path stored = f.tmp / "cache" / "tarballs" / (first.packed.content_hash + ".tar.zst");
  REQUIRE(fs::exists(stored));

  SECTION("flipped byte") {
    std::string bytes = test::read_file(stored);
    bytes[bytes.size() / 2] ^= 0x55;
    write_file(stored, bytes);
  }
  SECTION("truncated tarball") {
    fs::resize_file(stored, fs::file_size(stored) / 2);
  }
  SECTION("tarball removed") {
    fs::remove(stored);
  }
  SECTION("garbage sidecar") {
    write_file(f.tmp / "cache" / "tarballs" / (first.packed.content_hash + ".json"), "{\"version\": 1, \"tar");
  }
  SECTION("garbage manifest") {
    for (const auto& entry : fs::directory_iterator(f.tmp / "cache" / "pack")) {
      write_file(entry.path(), "fleet-pack-manifest\nformat 1 \0\n");
    }
  }
  auto again = f.pack();
  CHECK_FALSE(again.from_cache);
  check_same(again.packed, f.fresh());
  CHECK(f.pack().from_cache);
}

TEST_CASE("TarballCache keeps the newest tarballs within max_bytes") {
  TempDir tmp;
  auto fake = [](char c, std::size_t size) {
    tarball::PackedTarball packed;
    packed.compressed = std::string(size, c);
    packed.content_hash = hash::sha256_hex(packed.compressed);
    packed.tar_size = size * 3;
    packed.file_count = 7;
    return packed;
  };
  TarballCache cache(tmp / "cache", 2500);
  const auto a = fake('a', 1000), b = fake('b', 1000), c = fake('c', 1000), huge = fake('h', 5000);
  cache.put(a);
  cache.put(b);
  // Mark a as used before c arrives, so b is the least recently used.
  const fs::path a_path = tmp / "cache" / "tarballs" / (a.content_hash + ".tar.zst");
  const fs::path b_path = tmp / "cache" / "tarballs" / (b.content_hash + ".tar.zst");
  set_mtime(b_path, 1'000'000);
  set_mtime(a_path, 2'000'000);
  REQUIRE(cache.compressed(a.content_hash) == a.compressed);  // touches a: now the newest
  cache.put(c);
  CHECK(cache.compressed(a.content_hash));
  CHECK_FALSE(cache.compressed(b.content_hash));
  CHECK_FALSE(fs::exists(tmp / "cache" / "tarballs" / (b.content_hash + ".json")));
  auto got = cache.packed(c.content_hash);
  REQUIRE(got);
  CHECK(got->compressed == c.compressed);
  CHECK(got->tar_size == 3000);
  CHECK(got->file_count == 7);

  // A tarball larger than the bound is still kept: it is the one just put.
  cache.put(huge);
  CHECK(cache.compressed(huge.content_hash) == huge.compressed);
  CHECK_FALSE(cache.compressed(a.content_hash));
  CHECK_FALSE(cache.compressed(c.content_hash));
  CHECK_FALSE(cache.compressed("../../etc/passwd"));
}

TEST_CASE("TarballCache::default_dir follows XDG_CACHE_HOME, else HOME") {
  {
    ScopedEnv cache("XDG_CACHE_HOME", "/somewhere/cache");
    CHECK(TarballCache::default_dir() == fs::path("/somewhere/cache/fleet"));
  }
  ScopedEnv relative("XDG_CACHE_HOME", "relative/cache");
  ScopedEnv home("HOME", "/home/someone");
  CHECK(TarballCache::default_dir() == fs::path("/home/someone/.cache/fleet"));
}
