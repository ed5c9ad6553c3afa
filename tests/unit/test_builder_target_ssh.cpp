// SPDX-License-Identifier: MIT
#include "builder/target_ssh.hpp"
#include "support/temp_dir.hpp"
#include "support/tree.hpp"

#include <catch2/catch.hpp>

using namespace fleet;

TEST_CASE("a pinned host key is the only key ssh will accept for that target") {
  fleet::test::TempDir dir;
  protocol::JobTarget target{"t1", protocol::TargetMode::delegate, "10.0.0.21", "root", 2222,
                             "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx1", protocol::Action::switch_, {}, {}};
  auto ssh = builder::make_target_ssh(target, dir.path());

  CHECK(ssh.destination == "root@10.0.0.21");
  CHECK(ssh.store_url() == "ssh://root@10.0.0.21");
  auto opts = ssh.nix_sshopts();
  CHECK_THAT(opts, Catch::Contains("-p 2222"));
  CHECK_THAT(opts, Catch::Contains("StrictHostKeyChecking=yes"));
  CHECK_THAT(opts, Catch::Contains("BatchMode=yes"));
  CHECK_THAT(opts, Catch::Contains("HostKeyAlias=fleet-t1"));
  CHECK_THAT(opts, Catch::Contains("GlobalKnownHostsFile=/dev/null"));

  CHECK(fleet::test::read_file(dir.path() / "known_hosts.t1") == "fleet-t1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx1\n");

  auto argv = ssh.command("true");
  CHECK(argv.front() == "ssh");
  CHECK(argv[argv.size() - 3] == "root@10.0.0.21");
  CHECK(argv[argv.size() - 2] == "--");
}

TEST_CASE("without a pinned key the build node's own ssh config decides user, port and known_hosts") {
  fleet::test::TempDir dir;
  protocol::JobTarget target{"t2", protocol::TargetMode::delegate, "t2.lab", "", 0, "", protocol::Action::switch_, {}, {}};
  auto ssh = builder::make_target_ssh(target, dir.path());
  CHECK(ssh.destination == "t2.lab");
  CHECK_THAT(ssh.nix_sshopts(), !Catch::Contains("-p "));
  CHECK_THAT(ssh.nix_sshopts(), !Catch::Contains("UserKnownHostsFile"));
  CHECK_FALSE(std::filesystem::exists(dir.path() / "known_hosts.t2"));
}
