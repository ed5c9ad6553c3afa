// SPDX-License-Identifier: MIT
#include "uploader/base/error.hpp"
#include "uploader/ssh/ssh_target.hpp"

#include <catch2/catch.hpp>

using namespace fleet;
using namespace fleet::ssh;

namespace {

SshTarget target(std::string host, std::string user = "", int port = 0, std::string key = "") {
  return SshTarget{std::move(host), std::move(user), port, std::move(key)};
}

constexpr const char* k_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

}  // namespace

TEST_CASE("ordinary ssh targets are accepted") {
  CHECK_NOTHROW(validate(target("builder1")));
  CHECK_NOTHROW(validate(target("10.0.0.7", "root", 22)));
  CHECK_NOTHROW(validate(target("host.example.org", "deploy", 2222)));
  CHECK_NOTHROW(validate(target("fe80::1%eth0", "root")));
  CHECK_NOTHROW(validate(target("my-alias", "", 0, k_key)));
  CHECK_NOTHROW(validate(target("builder1", "", 0, std::string(k_key) + " root@builder1")));
}

TEST_CASE("hosts and users that could turn into options or inject are rejected") {
  CHECK_THROWS_AS(validate(target("")), ConfigError);
  CHECK_THROWS_WITH(validate(target("-oProxyCommand=touch /tmp/x")), Catch::Contains("must not start with '-'"));
  CHECK_THROWS_WITH(validate(target("builder1", "-l")), Catch::Contains("ssh user '-l' must not start with '-'"));
  CHECK_THROWS_WITH(validate(target("build er")), Catch::Contains("whitespace or control"));
  CHECK_THROWS_WITH(validate(target("builder\n1")), Catch::Contains("whitespace or control"));
  CHECK_THROWS_WITH(validate(target("builder1\t")), Catch::Contains("whitespace or control"));
  CHECK_THROWS_WITH(validate(target("builder1", "ro ot")), Catch::Contains("ssh user"));
  CHECK_THROWS_WITH(validate(target("root@builder1")), Catch::Contains("must not contain '@'"));
  CHECK_THROWS_WITH(validate(target("builder1", "root@x")), Catch::Contains("must not contain '@'"));
  CHECK_THROWS_WITH(validate(target("$(reboot)")), Catch::Contains("must not contain '$'"));
  CHECK_THROWS_WITH(validate(target("my_alias")), Catch::Contains("libssh 0.10 rejects it"));
  CHECK_THROWS_WITH(validate(target("builder1", "", 70000)), Catch::Contains("outside 1..65535"));
  CHECK_THROWS_WITH(validate(target("builder1", "", -1)), Catch::Contains("outside"));
}

TEST_CASE("a malformed pinned host key is a config error naming the host") {
  CHECK_THROWS_WITH(validate(target("b1", "", 0, "AAAAC3NzaC1lZDI1NTE5")), Catch::Contains("hostKey of 'b1'"));
  CHECK_THROWS_WITH(validate(target("b1", "", 0, "ssh-foo AAAA")), Catch::Contains("unknown key type 'ssh-foo'"));
  CHECK_THROWS_WITH(validate(target("b1", "", 0, "ssh-ed25519 !!!notbase64")), Catch::Contains("not a valid"));
  CHECK_THROWS_AS(validate(target("b1", "", 0, "ssh-ed25519 ")), ConfigError);
}
