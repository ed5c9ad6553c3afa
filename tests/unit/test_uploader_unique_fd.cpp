// SPDX-License-Identifier: MIT
#include "uploader/base/unique_fd.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

using namespace fleet;

namespace {

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

}  // namespace

TEST_CASE("UniqueFd closes what it owns, once, and hands it on when moved") {
  int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  REQUIRE(raw >= 0);
  SECTION("closed at the end of its scope") {
    { const UniqueFd fd(raw); }
    CHECK_FALSE(is_open(raw));
  }
  SECTION("a move leaves the source empty and the descriptor open") {
    UniqueFd first(raw);
    UniqueFd second(std::move(first));
    CHECK(first.get() == -1);  // the moved-from state is the point
    CHECK(second.get() == raw);
    first = std::move(second);
    CHECK(first.get() == raw);
    CHECK(is_open(raw));
    first.reset();
    CHECK_FALSE(is_open(raw));
  }
  SECTION("release gives it up unclosed") {
    UniqueFd fd(raw);
    CHECK(fd.release() == raw);
    CHECK_FALSE(fd.valid());
    CHECK(is_open(raw));
    ::close(raw);
  }
  SECTION("close reports success and leaves nothing owned") {
    UniqueFd fd(raw);
    CHECK(fd.close());
    CHECK_FALSE(fd.valid());
    CHECK_FALSE(is_open(raw));
    CHECK(fd.close());  // nothing left to close is not an error
  }
}
