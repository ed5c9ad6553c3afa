// SPDX-License-Identifier: MIT
#include "builder/receive.hpp"
#include "support/temp_dir.hpp"
#include "support/tree.hpp"
#include "uploader/base/error.hpp"
#include "uploader/tarball/source_set.hpp"
#include "uploader/tarball/tarball_reader.hpp"
#include "uploader/tarball/tarball_writer.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
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

}  // namespace

TEST_CASE("receive unpacks a new tarball once and then reports it as present") {
  TempDir tmp;
  write_file(tmp / "src/flake.nix", "{ }\n");
  write_file(tmp / "src/hosts/a.nix", "{ a = 1; }\n");
  const auto packed = tarball::pack(tarball::collect_sources(tmp / "src", {}));
  write_file(tmp / "upload.tar.zst", packed.compressed);
  const fs::path state = tmp / "state";
  const int fd = ::open((tmp / "upload.tar.zst").c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);

  std::ostringstream first;
  builder::run_receive(packed.content_hash, state, fd, first);
  const auto lines = json_lines(first.str());
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == nlohmann::json{{"hello", "fleet-builder"}, {"version", 1}, {"have", false}});
  CHECK(lines[1] == nlohmann::json{{"received", packed.content_hash}, {"bytes", packed.tar_size}, {"entries", 3}});
  const fs::path dest = state / "sources" / packed.content_hash;
  CHECK(fleet::test::read_file(dest / "hosts/a.nix") == "{ a = 1; }\n");
  CHECK(std::distance(fs::directory_iterator(state / "sources"), fs::directory_iterator()) == 1);

  REQUIRE(::lseek(fd, 0, SEEK_SET) == 0);
  std::ostringstream second;
  builder::run_receive(packed.content_hash, state, fd, second);
  CHECK(second.str() == R"({"have":true,"hello":"fleet-builder","version":1})"
                        "\n");
  CHECK(::lseek(fd, 0, SEEK_CUR) == 0);
  ::close(fd);
}

TEST_CASE("receive refuses a bad hash argument and a tarball that does not match it") {
  TempDir tmp;
  std::ostringstream out;
  CHECK_THROWS_AS(builder::run_receive("../../etc", tmp.path(), -1, out), ProtocolError);
  CHECK(out.str().empty());

  write_file(tmp / "src/a", "a\n");
  const auto packed = tarball::pack(tarball::collect_sources(tmp / "src", {}));
  write_file(tmp / "upload.tar.zst", packed.compressed);
  const int fd = ::open((tmp / "upload.tar.zst").c_str(), O_RDONLY | O_CLOEXEC);
  const std::string other(64, 'b');
  CHECK_THROWS_WITH(builder::run_receive(other, tmp / "state", fd, out), Catch::Contains("hash mismatch"));
  ::close(fd);
  CHECK(list_tree(tmp / "state") == "sources dir 755\n");
}

TEST_CASE("a receive that loses the race to a concurrent one discards its copy and succeeds") {
  TempDir tmp;
  write_file(tmp / "src/a", "a\n");
  const auto packed = tarball::pack(tarball::collect_sources(tmp / "src", {}));
  const fs::path sources = tmp / "state/sources";
  const fs::path dest = sources / packed.content_hash;

  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const std::size_t half = packed.compressed.size() / 2;
  REQUIRE(::write(fds[1], packed.compressed.data(), half) == static_cast<ssize_t>(half));
  std::ostringstream out;
  std::exception_ptr failure;
  std::thread receiver([&] {
    try {
      builder::run_receive(packed.content_hash, tmp / "state", fds[0], out);
    } catch (...) {
      failure = std::current_exception();
    }
  });
  // Once the partial directory exists, the receive is past its checks and reading the pipe:
  // the other receive wins now by putting the destination in place.
  auto partial_exists = [&] {
    std::error_code ec;
    return fs::exists(sources, ec) && fs::directory_iterator(sources) != fs::directory_iterator();
  };
  for (int i = 0; i < 5000 && !partial_exists(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  REQUIRE(partial_exists());
  write_file(tmp / "winner/a", "a\n");
  fs::rename(tmp / "winner", dest);
  REQUIRE(::write(fds[1], packed.compressed.data() + half, packed.compressed.size() - half) ==
          static_cast<ssize_t>(packed.compressed.size() - half));
  ::close(fds[1]);
  receiver.join();
  ::close(fds[0]);

  REQUIRE_FALSE(failure);
  const auto lines = json_lines(out.str());
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["have"] == false);
  CHECK(lines[1] == nlohmann::json{{"received", packed.content_hash}, {"bytes", packed.tar_size}, {"entries", 1}});
  CHECK(list_tree(sources) == packed.content_hash + " dir 755\n" + packed.content_hash + "/a file 644 a\n\n");
}
