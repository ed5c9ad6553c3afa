// SPDX-License-Identifier: MIT
#include "support/temp_dir.hpp"
#include "support/tree.hpp"
#include "uploader/base/error.hpp"
#include "uploader/hash/sha256.hpp"
#include "uploader/tarball/archive_handle.hpp"
#include "uploader/tarball/source_set.hpp"
#include "uploader/tarball/tarball_reader.hpp"
#include "uploader/tarball/tarball_writer.hpp"
#include "uploader/tarball/zstd_stream.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sodium.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <vector>

using namespace fleet;
using namespace fleet::tarball;
using fleet::test::list_tree;
using fleet::test::TempDir;
using fleet::test::write_file;
namespace fs = std::filesystem;

namespace {

// One raw tar entry, written as given: no checks, so the tests can say anything.
struct RawEntry {
  std::string name;
  unsigned type = AE_IFREG;
  std::string data;
  std::string symlink;
  std::string hardlink;
};

la_ssize_t append_to_string(archive*, void* client, const void* buffer, std::size_t length) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

std::string raw_tar(const std::vector<RawEntry>& entries) {
  std::string tar;
  ArchiveWriter writer(archive_write_new());
  archive_write_set_format_pax_restricted(writer.get());
  archive_write_set_bytes_in_last_block(writer.get(), 1);
  REQUIRE(archive_write_open(writer.get(), &tar, nullptr, append_to_string, nullptr) == ARCHIVE_OK);
  for (const auto& raw : entries) {
    ArchiveEntry entry(archive_entry_new());
    archive_entry_set_pathname(entry.get(), raw.name.c_str());
    archive_entry_set_filetype(entry.get(), raw.type);
    archive_entry_set_perm(entry.get(), 0644);
    if (!raw.symlink.empty()) {
      archive_entry_set_symlink(entry.get(), raw.symlink.c_str());
    }
    if (!raw.hardlink.empty()) {
      archive_entry_set_hardlink(entry.get(), raw.hardlink.c_str());
    }
    if (raw.type == AE_IFCHR) {
      archive_entry_set_rdev(entry.get(), makedev(1, 3));
    }
    archive_entry_set_size(entry.get(), static_cast<la_int64_t>(raw.data.size()));
    REQUIRE(archive_write_header(writer.get(), entry.get()) == ARCHIVE_OK);
    if (!raw.data.empty()) {
      REQUIRE(archive_write_data(writer.get(), raw.data.data(), raw.data.size()) ==
              static_cast<la_ssize_t>(raw.data.size()));
    }
  }
  REQUIRE(archive_write_close(writer.get()) == ARCHIVE_OK);
  return tar;
}

// A lab with an outside directory holding a victim file, and a work directory in which the
// destination is created; after a rejected unpack both must look exactly as before.
struct Lab {
  TempDir tmp;
  fs::path outside = tmp / "outside";
  fs::path work = tmp / "work";
  fs::path dest = work / "dest";

  Lab() {
    write_file(outside / "victim.txt", "original\n");
    fs::create_directories(work);
  }

  // Unpacks `stream` expecting a failure whose message contains `reason`, then checks that
  // nothing was left behind or written outside.
  void expect_rejected(const std::string& stream, const std::string& expected_hash, const std::string& reason,
                       const UnpackLimits& limits = {}) {
    const std::string outside_before = list_tree(outside);
    const fs::path file = tmp / "stream.tar.zst";
    write_file(file, stream);
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    CHECK_THROWS_WITH(unpack(fd, dest, expected_hash, limits), Catch::Contains(reason));
    ::close(fd);
    CHECK_FALSE(fs::exists(fs::symlink_status(dest)));
    CHECK(list_tree(work).empty());
    CHECK(list_tree(outside) == outside_before);
    CHECK_FALSE(fs::exists(tmp / "x"));
    CHECK_FALSE(fs::exists("/x-fleet-test"));
  }

  void expect_rejected(const std::vector<RawEntry>& entries, const std::string& reason) {
    const std::string tar = raw_tar(entries);
    // The right hash, so only the content checks can stop it.
    expect_rejected(zstd_compress(tar), hash::sha256_hex(tar), reason);
    // What a receive checks before keeping a tar refuses it too, writing nothing.
    CHECK_THROWS_AS(check_tar(tar, hash::sha256_hex(tar)), ProtocolError);
    CHECK(list_tree(work).empty());
  }
};

const RawEntry k_harmless{"ok.txt", AE_IFREG, "fine\n", "", ""};

}  // namespace

TEST_CASE("hostile tarball entries are rejected as a whole") {
  Lab lab;
  SECTION("dot-dot") { lab.expect_rejected({k_harmless, {"../x", AE_IFREG, "pwned", "", ""}}, "'../x' has a '..' component"); }
  SECTION("dot-dot in the middle") {
    lab.expect_rejected({{"a/../../x", AE_IFREG, "pwned", "", ""}}, "has a '..' component");
  }
  SECTION("absolute path") {
    const std::string victim = (lab.outside / "abs.txt").string();
    lab.expect_rejected({k_harmless, {victim, AE_IFREG, "pwned", "", ""}}, "is an absolute path");
  }
  SECTION("writing through a symlink to the outside") {
    lab.expect_rejected({{"link", AE_IFLNK, "", lab.outside.string(), ""}, {"link/pwned", AE_IFREG, "pwned", "", ""}},
                        "beneath the symlink");
  }
  SECTION("overwriting the victim through a relative symlink") {
    lab.expect_rejected({{"up", AE_IFLNK, "", "../../outside", ""}, {"up/victim.txt", AE_IFREG, "pwned", "", ""}},
                        "beneath the symlink");
  }
  SECTION("hardlink to a host file") {
    lab.expect_rejected({{"hl", AE_IFREG, "", "", (lab.outside / "victim.txt").string()}}, "is a hardlink");
  }
  SECTION("hardlink inside the tree") {
    lab.expect_rejected({k_harmless, {"hl", AE_IFREG, "", "", "ok.txt"}}, "is a hardlink");
  }
  SECTION("device node") { lab.expect_rejected({{"null", AE_IFCHR, "", "", ""}}, "unsupported type"); }
  SECTION("fifo") { lab.expect_rejected({{"fifo", AE_IFIFO, "", "", ""}}, "unsupported type"); }
  SECTION("empty name") { lab.expect_rejected({{"", AE_IFREG, "x", "", ""}}, "empty name"); }
  SECTION("a file named '.'") { lab.expect_rejected({{".", AE_IFREG, "x", "", ""}}, "destination directory itself"); }
  SECTION("a '.' component hiding that the path lies beneath a symlink") {
    lab.expect_rejected({{"d", AE_IFLNK, "", lab.outside.string(), ""}, {"./d/x", AE_IFREG, "pwned", "", ""}},
                        "'./d/x' has an empty or '.' component");
  }
  SECTION("an empty component") {
    lab.expect_rejected({{"d", AE_IFLNK, "", lab.outside.string(), ""}, {"d//x", AE_IFREG, "pwned", "", ""}},
                        "'d//x' has an empty or '.' component");
  }
}

TEST_CASE("a file identical in the earlier tree is never hardlinked through a symlink of the tarball") {
  Lab lab;
  // The earlier tree holds d/x, so the fast path would link() it to <dest>/d/x, through d.
  const fs::path earlier = lab.work / "earlier";
  write_file(earlier / "d" / "x", "pwned");
  fs::permissions(earlier / "d" / "x", fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                           fs::perms::others_read);
  const std::string before = list_tree(lab.outside);
  for (const std::string name : {"./d/x", "d/./x", "d/x"}) {
    const std::string tar = raw_tar({{"d", AE_IFLNK, "", lab.outside.string(), ""}, {name, AE_IFREG, "pwned", "", ""}});
    CHECK_THROWS_AS(unpack_tar(tar, lab.dest, hash::sha256_hex(tar), earlier), ProtocolError);
    CHECK_THROWS_AS(check_tar(tar, hash::sha256_hex(tar)), ProtocolError);
    CHECK_FALSE(fs::exists(lab.outside / "x"));
    CHECK(list_tree(lab.outside) == before);
    CHECK_FALSE(fs::exists(fs::symlink_status(lab.dest)));
  }
}

TEST_CASE("corrupt, truncated and mismatched streams are rejected") {
  Lab lab;
  const std::string tar = raw_tar({k_harmless, {"dir/b.txt", AE_IFREG, std::string(200000, 'b'), "", ""}});
  const std::string hash = hash::sha256_hex(tar);
  const std::string stream = zstd_compress(tar);

  SECTION("truncated in half") { lab.expect_rejected(stream.substr(0, stream.size() / 2), hash, "truncated"); }
  SECTION("last byte missing") { lab.expect_rejected(stream.substr(0, stream.size() - 1), hash, "truncated"); }
  SECTION("empty stream") { lab.expect_rejected("", hash, "truncated"); }
  SECTION("random garbage") {
    std::string garbage(4096, '\0');
    randombytes_buf(garbage.data(), garbage.size());
    lab.expect_rejected(garbage, hash, "not valid zstd");
  }
  SECTION("a flipped byte in the frame") {
    std::string bad = stream;
    bad[bad.size() / 2] = static_cast<char>(bad[bad.size() / 2] ^ 0x55);
    lab.expect_rejected(bad, hash, "tarball stream is not valid zstd after");
  }
  SECTION("garbage after the zstd frame") { lab.expect_rejected(stream + "trailing!", hash, "not valid zstd"); }
  SECTION("garbage after the tar end inside the frame") {
    lab.expect_rejected(zstd_compress(tar + "hidden data"), hash, "hash mismatch");
  }
  SECTION("uncompressed tar") { lab.expect_rejected(tar, hash, "not valid zstd"); }
  SECTION("not a tar inside zstd") {
    const std::string text(2048, 'x');
    lab.expect_rejected(zstd_compress(text), hash::sha256_hex(text), "Unrecognized archive format");
  }
  SECTION("valid tarball, wrong expected hash") {
    lab.expect_rejected(stream, std::string(64, 'a'), "hash mismatch: expected " + std::string(64, 'a'));
  }
  SECTION("too many entries") {
    lab.expect_rejected(stream, hash, "more than the limit of 1 entries", UnpackLimits{1ull << 30, 1});
  }
  SECTION("too many bytes") {
    lab.expect_rejected(stream, hash, "more than the limit of 100000 bytes", UnpackLimits{100000, 100});
  }
  SECTION("the well-formed stream itself is accepted") {
    const fs::path file = lab.tmp / "good.tar.zst";
    write_file(file, stream);
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    const auto result = unpack(fd, lab.dest, hash);
    ::close(fd);
    CHECK(result.entries == 2);
    CHECK(fleet::test::read_file(lab.dest / "dir/b.txt") == std::string(200000, 'b'));
  }
}

TEST_CASE("a tarball may carry outward symlinks but nothing is written through them") {
  Lab lab;
  const std::string tar = raw_tar({{"abs", AE_IFLNK, "", lab.outside.string(), ""},
                                   {"rel", AE_IFLNK, "", "../../outside/victim.txt", ""},
                                   {"abs", AE_IFREG, "replaces the link, not the target\n", "", ""}});
  CHECK(check_tar(tar, hash::sha256_hex(tar)).entries == 3);
  const fs::path file = lab.tmp / "s.tar.zst";
  write_file(file, zstd_compress(tar));
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  unpack(fd, lab.dest, hash::sha256_hex(tar));
  ::close(fd);
  CHECK(fs::read_symlink(lab.dest / "rel") == "../../outside/victim.txt");
  CHECK(fs::is_regular_file(fs::symlink_status(lab.dest / "abs")));
  CHECK(fleet::test::read_file(lab.outside / "victim.txt") == "original\n");
  CHECK(list_tree(lab.outside) == "victim.txt file 644 original\n\n");
}
