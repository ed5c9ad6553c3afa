// SPDX-License-Identifier: MIT
#include "builder/receive.hpp"
#include "builder/relay.hpp"
#include "builder/source_store.hpp"
#include "support/temp_dir.hpp"
#include "support/tree.hpp"
#include "uploader/base/error.hpp"
#include "uploader/tarball/source_set.hpp"
#include "uploader/tarball/tarball_reader.hpp"
#include "uploader/tarball/tarball_writer.hpp"
#include "uploader/tarball/zstd_delta.hpp"
#include "uploader/tarball/zstd_stream.hpp"
#include "uploader/protocol/job.hpp"
#include "uploader/transfer/transfer_messages.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <sys/wait.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

using namespace fleet;
using fleet::test::list_tree;
using fleet::test::TempDir;
using fleet::test::write_file;
namespace fs = std::filesystem;

namespace {

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(nlohmann::json::parse(line));
  }
  return lines;
}

// Writes `input` to a file and returns a descriptor reading it from the start.
int input_fd(const fs::path& file, const std::string& input) {
  write_file(file, input);
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  return fd;
}

std::string full_upload(const tarball::PackedTarball& packed) {
  return transfer::to_line(transfer::PayloadHeader{"", packed.compressed.size()}) + "\n" + packed.compressed;
}

std::string receive(const std::string& hash, const fs::path& state, const fs::path& scratch, const std::string& input) {
  const int fd = input_fd(scratch, input);
  std::ostringstream out;
  try {
    builder::run_receive(hash, state, fd, out);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return out.str();
}

}  // namespace

TEST_CASE("receive unpacks a whole tarball once, keeps its tar, and then reports it as present") {
  TempDir tmp;
  write_file(tmp / "src/flake.nix", "{ }\n");
  write_file(tmp / "src/hosts/a.nix", "{ a = 1; }\n");
  const auto packed = tarball::pack(tarball::collect_sources(tmp / "src", {}));
  const fs::path state = tmp / "state";

  const auto lines = json_lines(receive(packed.content_hash, state, tmp / "in", full_upload(packed)));
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == nlohmann::json{{"hello", "fleet-builder"}, {"version", protocol::k_protocol_version},
                                   {"have", false}, {"bases", nlohmann::json::array()}});
  CHECK(lines[1] == nlohmann::json{{"received", packed.content_hash}, {"bytes", packed.tar_size}, {"entries", 3},
                                   {"payloadBytes", packed.compressed.size()}, {"base", nullptr}});
  // Kept as a tar; a job unpacks it.
  CHECK_FALSE(fs::exists(state / "sources" / packed.content_hash));
  const fs::path dest = builder::SourceStore(state).ensure_tree(packed.content_hash).root();
  CHECK(fleet::test::read_file(dest / "hosts/a.nix") == "{ a = 1; }\n");
  CHECK(tarball::zstd_compress(fleet::test::read_file(state / "sources" / (packed.content_hash + ".tar"))) ==
        packed.compressed);
  // It came whole: kept as it came too, to be relayed without compressing it again.
  CHECK(builder::SourceStore(state).compressed(packed.content_hash) == packed.compressed);

  // Holding it, the agent reads nothing: an empty input is fine.
  const auto again = json_lines(receive(packed.content_hash, state, tmp / "in", ""));
  REQUIRE(again.size() == 1);
  CHECK(again[0]["have"] == true);
}

TEST_CASE("receive rebuilds a source from a delta against a tar it keeps, and offers its tars as bases") {
  TempDir tmp;
  for (int i = 0; i < 200; ++i) {
    write_file(tmp / ("src/pkgs/file" + std::to_string(i)), std::string(2000, static_cast<char>('a' + i % 26)) + "\n");
  }
  const auto first = tarball::pack(tarball::collect_sources(tmp / "src", {}));
  write_file(tmp / "src/pkgs/file7", "changed\n");
  const auto second = tarball::pack(tarball::collect_sources(tmp / "src", {}));
  const fs::path state = tmp / "state";
  receive(first.content_hash, state, tmp / "in", full_upload(first));

  const std::string base_tar = tarball::zstd_decompress(first.compressed, 1 << 30);
  const std::string delta = tarball::make_delta(base_tar, tarball::zstd_decompress(second.compressed, 1 << 30));
  CHECK(delta.size() < second.compressed.size() / 10);
  const auto lines = json_lines(receive(second.content_hash, state, tmp / "in",
                                        transfer::to_line(transfer::PayloadHeader{first.content_hash, delta.size()}) +
                                            "\n" + delta));
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["bases"] == nlohmann::json::array({first.content_hash}));
  CHECK(lines[1]["base"] == first.content_hash);
  CHECK(lines[1]["payloadBytes"] == delta.size());
  CHECK(fleet::test::read_file(builder::SourceStore(state).ensure_tree(second.content_hash).root() / "pkgs/file7") ==
        "changed\n");
  CHECK(builder::SourceStore(state).bases() == std::vector<std::string>{second.content_hash, first.content_hash});
  CHECK_FALSE(builder::SourceStore(state).compressed(second.content_hash));
}

TEST_CASE("receive refuses a bad hash, a mismatching tarball, an unknown base, and truncated or extra bytes") {
  TempDir tmp;
  std::ostringstream out;
  CHECK_THROWS_AS(builder::run_receive("../../etc", tmp.path(), -1, out), ProtocolError);
  CHECK(out.str().empty());
  // A relay's hash goes into the command it runs on each destination.
  CHECK_THROWS_WITH(builder::run_relay("x; touch /tmp/owned", tmp.path(), {}, out), Catch::Contains("not a content hash"));
  CHECK(out.str().empty());

  write_file(tmp / "src/a", "a\n");
  const auto packed = tarball::pack(tarball::collect_sources(tmp / "src", {}));
  const fs::path state = tmp / "state";
  const std::string other(64, 'b');
  CHECK_THROWS_WITH(receive(other, state, tmp / "in", full_upload(packed)), Catch::Contains("hash mismatch"));
  CHECK_THROWS_WITH(receive(packed.content_hash, state, tmp / "in",
                            transfer::to_line(transfer::PayloadHeader{other, 10}) + "\n" + std::string(10, 'x')),
                    Catch::Contains("does not keep"));
  CHECK_THROWS_WITH(receive(packed.content_hash, state, tmp / "in", full_upload(packed).substr(0, 60)),
                    Catch::Contains("truncated"));
  CHECK_THROWS_WITH(receive(packed.content_hash, state, tmp / "in", full_upload(packed) + "x"),
                    Catch::Contains("more than"));
  CHECK_THROWS_WITH(receive(packed.content_hash, state, tmp / "in", "not json\n"), Catch::Contains("not a JSON object"));
  CHECK(list_tree(state) == "sources dir 755\n");
}

TEST_CASE("a source already unpacked but no longer kept as a tar gets its tar back, and hostile ones none") {
  TempDir tmp;
  write_file(tmp / "src/a", "a\n");
  const auto packed = tarball::pack(tarball::collect_sources(tmp / "src", {}));
  const fs::path sources = tmp / "state/sources";
  // As a concurrent receive that won the race, or an older agent, would have left it.
  write_file(sources / packed.content_hash / "a", "a\n");

  const auto lines = json_lines(receive(packed.content_hash, tmp / "state", tmp / "in", full_upload(packed)));
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["have"] == false);
  CHECK(lines[1]["received"] == packed.content_hash);
  CHECK(builder::SourceStore(tmp / "state").holds(packed.content_hash));
  CHECK_THROWS_WITH(receive(packed.content_hash, tmp / "other-state", tmp / "in2",
                            transfer::to_line(transfer::PayloadHeader{"", 4}) + "\nabcd"),
                    Catch::Contains("not valid zstd"));
}

TEST_CASE("the source store keeps the newest tars only, with what came along with them") {
  TempDir tmp;
  const builder::SourceStore store(tmp / "state");
  std::vector<std::string> hashes;
  for (char c : std::string("abcd")) {
    hashes.emplace_back(64, c);
    store.keep_tar(hashes.back(), std::string(10, c), std::string(3, c));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // distinct mtimes
  }
  CHECK(store.bases() == std::vector<std::string>{hashes[3], hashes[2], hashes[1]});
  CHECK_FALSE(store.tar(hashes[0]));
  CHECK_FALSE(store.compressed(hashes[0]));
  CHECK(store.compressed(hashes[1]) == std::string(3, 'b'));
  CHECK(store.holds(hashes[3]));
  CHECK_THROWS_AS(store.ensure_tree(hashes[0]), NodeError);
}

TEST_CASE("a new source reuses the unchanged files of the tree before it, and writes only what changed") {
  TempDir tmp;
  for (int i = 0; i < 20; ++i) {
    write_file(tmp / ("src/pkgs/file" + std::to_string(i)), "content " + std::to_string(i) + "\n");
  }
  write_file(tmp / "src/bin/run", "#!/bin/sh\n", 0755);
  const auto first = tarball::pack(tarball::collect_sources(tmp / "src", {}));
  write_file(tmp / "src/pkgs/file7", "changed\n");
  fs::permissions(tmp / "src/pkgs/file8", fs::perms::owner_exec, fs::perm_options::add);  // same bytes, new mode
  const auto second = tarball::pack(tarball::collect_sources(tmp / "src", {}));
  const fs::path state = tmp / "state";
  receive(first.content_hash, state, tmp / "in", full_upload(first));
  receive(second.content_hash, state, tmp / "in", full_upload(second));
  const builder::SourceStore store(state);
  const fs::path old_tree = store.ensure_tree(first.content_hash).root();
  const fs::path new_tree = store.ensure_tree(second.content_hash).root();

  auto same_inode = [&](const std::string& name) {
    return fs::equivalent(old_tree / name, new_tree / name);
  };
  CHECK(same_inode("pkgs/file1"));
  CHECK(same_inode("bin/run"));
  CHECK_FALSE(same_inode("pkgs/file7"));
  CHECK_FALSE(same_inode("pkgs/file8"));
  CHECK(fleet::test::read_file(new_tree / "pkgs/file7") == "changed\n");
  CHECK(fleet::test::read_file(old_tree / "pkgs/file7") == "content 7\n");
  CHECK((fs::status(new_tree / "pkgs/file8").permissions() & fs::perms::owner_exec) != fs::perms::none);
  CHECK((fs::status(old_tree / "pkgs/file8").permissions() & fs::perms::owner_exec) == fs::perms::none);
  // A shared inode must not be written through one tree: files are read-only for everyone.
  CHECK((fs::status(new_tree / "pkgs/file1").permissions() & fs::perms::all) == fs::perms(0444));
  CHECK((fs::status(new_tree / "bin/run").permissions() & fs::perms::all) == fs::perms(0555));
}

TEST_CASE("an unpacked tree goes with its tar, unless a job holds it") {
  TempDir tmp;
  const fs::path state = tmp / "state";
  auto source = [&](int i) {
    write_file(tmp / "src/flake.nix", "{ version = " + std::to_string(i) + "; }\n");
    return tarball::pack(tarball::collect_sources(tmp / "src", {}));
  };
  std::vector<std::string> hashes;
  for (int i = 0; i < 6; ++i) {
    hashes.push_back(source(i).content_hash);
  }
  const builder::SourceStore store(state);
  receive(hashes[0], state, tmp / "in", full_upload(source(0)));
  receive(hashes[1], state, tmp / "in", full_upload(source(1)));
  store.ensure_tree(hashes[0]);  // unpacked, then let go
  std::optional<builder::HeldTree> held = store.ensure_tree(hashes[1]);
  for (int i = 2; i < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // distinct mtimes
    receive(hashes[i], state, tmp / "in", full_upload(source(i)));
  }
  // Tars 0 and 1 are gone: tree 0 with its tar, tree 1 kept for the job that reads it.
  CHECK(store.bases() == std::vector<std::string>{hashes[4], hashes[3], hashes[2]});
  CHECK_FALSE(fs::exists(store.tree(hashes[0])));
  CHECK(fleet::test::read_file(held->flake_dir(".") / "flake.nix") == "{ version = 1; }\n");
  held.reset();
  receive(hashes[5], state, tmp / "in", full_upload(source(5)));
  CHECK_FALSE(fs::exists(store.tree(hashes[1])));
  std::vector<std::string> left;
  for (const auto& entry : fs::directory_iterator(store.dir())) {
    if (entry.is_directory()) {
      left.push_back(entry.path().filename().string());
    }
  }
  CHECK(left.empty());
  // A tree whose tar is gone cannot be unpacked again.
  CHECK_THROWS_AS(store.ensure_tree(hashes[1]), NodeError);
  CHECK_THROWS_WITH(store.ensure_tree("../x"), Catch::Contains("not a content hash"));
  CHECK_THROWS_WITH(store.ensure_tree(hashes[5]).flake_dir("../x"), Catch::Contains("relative path inside the source"));
}

TEST_CASE("a source that cannot be unpacked says which one, and stays a protocol error") {
  TempDir tmp;
  write_file(tmp / "src/flake.nix", "{ }\n");
  const auto packed = tarball::pack(tarball::collect_sources(tmp / "src", {}));
  const std::string claimed(64, 'a');  // kept under a hash it does not have
  const builder::SourceStore store(tmp / "state");
  fs::create_directories(store.dir());
  store.keep_tar(claimed, tarball::zstd_decompress(packed.compressed, 1 << 20), std::nullopt);

  try {
    store.ensure_tree(claimed);
    FAIL("unpacked a tar whose hash is not the one asked for");
  } catch (const ProtocolError& e) {
    CHECK_THAT(e.message(), Catch::Matchers::StartsWith("tarball content hash mismatch"));
    REQUIRE(e.context().size() == 1);
    CHECK(e.context()[0] == "unpacking source " + claimed + " into " + store.tree(claimed).string());
    CHECK_THAT(e.what(), Catch::Matchers::EndsWith("\n  … while unpacking source " + claimed + " into " +
                                                   store.tree(claimed).string()));
  }
  CHECK_FALSE(fs::exists(store.tree(claimed)));
  // Damaged since it was received: it is not held any more, so the next run sends it again.
  CHECK_FALSE(store.holds(claimed));
}

namespace {

// Runs a receive whose input arrives through a pipe in writes of `piece` bytes, as from ssh.
std::string receive_through_pipe(const std::string& hash, const fs::path& state, const std::string& input,
                                 std::size_t piece) {
  int ends[2];
  REQUIRE(::pipe2(ends, O_CLOEXEC) == 0);
  std::thread writer([&input, piece, fd = ends[1]] {
    for (std::size_t at = 0; at < input.size(); at += piece) {
      const std::string_view bytes = std::string_view(input).substr(at, piece);
      if (::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
        break;  // the reader gave up; its error says why
      }
    }
    ::close(fd);
  });
  std::ostringstream out;
  std::exception_ptr failure;
  try {
    builder::run_receive(hash, state, ends[0], out);
  } catch (...) {
    failure = std::current_exception();
  }
  ::close(ends[0]);
  writer.join();
  if (failure) {
    std::rethrow_exception(failure);
  }
  return out.str();
}

// A source of one file of `size` incompressible bytes from `seed`.
tarball::PackedTarball incompressible_source(const fs::path& dir, std::size_t size, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string content(size, '\0');
  for (std::size_t i = 0; i + 8 <= size; i += 8) {
    const std::uint64_t word = rng();
    std::memcpy(content.data() + i, &word, 8);
  }
  write_file(dir / "blob", content);
  return tarball::pack(tarball::collect_sources(dir, {}));
}

// How far the peak resident memory of a child running `work` rose above what it started
// with, in KiB; -1 when `work` threw.
long peak_memory_growth_kib(const std::function<void()>& work) {
  int ends[2];
  REQUIRE(::pipe2(ends, O_CLOEXEC) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    auto peak_kib = [] {
      std::ifstream status("/proc/self/status");
      for (std::string line; std::getline(status, line);) {
        if (line.rfind("VmHWM:", 0) == 0) {
          return std::stol(line.substr(6));
        }
      }
      return -1L;
    };
    // Resets the peak to what is resident now (proc(5), clear_refs).
    std::ofstream("/proc/self/clear_refs") << "5";
    const long before = peak_kib();
    long growth = -1;
    try {
      work();
      growth = peak_kib() - before;
    } catch (...) {
    }
    ::write(ends[1], &growth, sizeof growth);
    ::_exit(0);
  }
  ::close(ends[1]);
  long growth = -1;
  const bool read_it = ::read(ends[0], &growth, sizeof growth) == static_cast<ssize_t>(sizeof growth);
  ::close(ends[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(read_it);
  return growth;
}

}  // namespace

TEST_CASE("receive takes its payload as it arrives, in pieces of any size") {
  TempDir tmp;
  for (int i = 0; i < 100; ++i) {
    write_file(tmp / ("src/pkgs/file" + std::to_string(i)), std::string(3000, static_cast<char>('a' + i % 26)) + "\n");
  }
  const auto first = tarball::pack(tarball::collect_sources(tmp / "src", {}));
  write_file(tmp / "src/pkgs/file42", "changed\n");
  const auto second = tarball::pack(tarball::collect_sources(tmp / "src", {}));
  const std::string delta = tarball::make_delta(tarball::zstd_decompress(first.compressed, 1 << 30),
                                                tarball::zstd_decompress(second.compressed, 1 << 30));
  const std::string delta_upload =
      transfer::to_line(transfer::PayloadHeader{first.content_hash, delta.size()}) + "\n" + delta;

  for (std::size_t piece : {std::size_t{1}, std::size_t{100}, std::size_t{70000}}) {
    INFO("writes of " << piece << " bytes");
    TempDir run;
    const fs::path state = run / "state";
    CHECK(json_lines(receive_through_pipe(first.content_hash, state, full_upload(first), piece)).back()["received"] ==
          first.content_hash);
    CHECK(json_lines(receive_through_pipe(second.content_hash, state, delta_upload, piece)).back()["base"] ==
          first.content_hash);
    const builder::SourceStore store(state);
    CHECK(store.tar(second.content_hash) == tarball::zstd_decompress(second.compressed, 1 << 30));
    CHECK(store.compressed(first.content_hash) == first.compressed);
    CHECK(fleet::test::read_file(store.ensure_tree(second.content_hash).root() / "pkgs/file42") == "changed\n");
    // Nothing but what it keeps: no temporary file outlived the receive.
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(store.dir())) {
      names.insert(entry.path().filename().string());
    }
    CHECK(names == std::set<std::string>{first.content_hash + ".tar", first.content_hash + ".tar.zst",
                                         second.content_hash + ".tar", second.content_hash});
  }
}

TEST_CASE("receive refuses a delta cut short or with a flipped byte, and keeps nothing of it") {
  TempDir tmp;
  write_file(tmp / "src/a", std::string(50000, 'a'));
  const auto first = tarball::pack(tarball::collect_sources(tmp / "src", {}));
  write_file(tmp / "src/b", "new\n");
  const auto second = tarball::pack(tarball::collect_sources(tmp / "src", {}));
  const fs::path state = tmp / "state";
  receive(first.content_hash, state, tmp / "in", full_upload(first));
  const std::string delta = tarball::make_delta(tarball::zstd_decompress(first.compressed, 1 << 30),
                                                tarball::zstd_decompress(second.compressed, 1 << 30));
  auto upload = [&](const std::string& payload) {
    return transfer::to_line(transfer::PayloadHeader{first.content_hash, payload.size()}) + "\n" + payload;
  };
  std::string flipped = delta;
  flipped[delta.size() - 2] = static_cast<char>(flipped[delta.size() - 2] ^ 0x20);
  CHECK_THROWS_AS(receive_through_pipe(second.content_hash, state, upload(delta.substr(0, delta.size() - 3)), 5),
                  ProtocolError);
  CHECK_THROWS_AS(receive_through_pipe(second.content_hash, state, upload(flipped), 5), ProtocolError);
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(state / "sources")) {
    names.insert(entry.path().filename().string());
  }
  CHECK(names == std::set<std::string>{first.content_hash + ".tar", first.content_hash + ".tar.zst"});
}

TEST_CASE("receiving a source takes memory for pieces of it, not for the whole of it") {
  // 64 MiB that do not compress: held whole, the payload and the tar would take 128 MiB.
  constexpr std::size_t k_size = 64 << 20;
  constexpr long k_limit_kib = 32 << 10;
  TempDir tmp;
  const fs::path state = tmp / "state";
  std::string first_hash;
  {
    const auto first = incompressible_source(tmp / "src", k_size, 1);
    first_hash = first.content_hash;
    write_file(tmp / "first.in", full_upload(first));
  }
  auto receive_file = [&](const std::string& hash, const fs::path& input) {
    return peak_memory_growth_kib([&] {
      const int fd = ::open(input.c_str(), O_RDONLY | O_CLOEXEC);
      std::ostringstream out;
      builder::run_receive(hash, state, fd, out);
      ::close(fd);
    });
  };
  const long whole_kib = receive_file(first_hash, tmp / "first.in");
  WARN("receiving a 64 MiB source whole: peak memory grew by " << whole_kib << " KiB");
  CHECK(whole_kib >= 0);
  CHECK(whole_kib < k_limit_kib);
  REQUIRE(builder::SourceStore(state).holds(first_hash));

  // A delta changing one small file: the 64 MiB it shares with its base are copied in pieces.
  write_file(tmp / "src/note", "a small change\n");
  std::string second_hash;
  {
    const auto second = tarball::pack(tarball::collect_sources(tmp / "src", {}));
    second_hash = second.content_hash;
    const std::string delta = tarball::make_delta(*builder::SourceStore(state).tar(first_hash),
                                                  tarball::zstd_decompress(second.compressed, 1ull << 30));
    write_file(tmp / "second.in",
               transfer::to_line(transfer::PayloadHeader{first_hash, delta.size()}) + "\n" + delta);
  }
  const long delta_kib = receive_file(second_hash, tmp / "second.in");
  WARN("receiving it again as a delta: peak memory grew by " << delta_kib << " KiB");
  CHECK(delta_kib >= 0);
  CHECK(delta_kib < k_limit_kib);
  CHECK(builder::SourceStore(state).holds(second_hash));
}
