// SPDX-License-Identifier: MIT
#include "builder/phases/remote_builders.hpp"

#include "uploader/base/error.hpp"

#include <catch2/catch.hpp>

using namespace fleet;
using namespace fleet::builder;

namespace {

protocol::RemoteBuilder b2() {
  return {"b2", "10.0.0.12", "root", 22, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx1", {"x86_64-linux", "i686-linux"}, 4, 2};
}

protocol::BuildJob job_with(std::vector<protocol::RemoteBuilder> builders) {
  protocol::BuildJob job;
  job.run_id = "run-1";
  job.source_hash = std::string(64, 'a');
  job.remote_builders = std::move(builders);
  return job;
}

}  // namespace

TEST_CASE("remote builders become nix machine lines with their host keys pinned") {
  auto options = build_options({{"sandbox", "false"}}, {b2()});
  // base64 of "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx1", as nix's machines file wants the key.
  CHECK(options.nix_options.at("builders") ==
        "ssh-ng://root@10.0.0.12 x86_64-linux,i686-linux - 4 2 - - c3NoLWVkMjU1MTkgQUFBQUMzTnphQzFsWkRJMU5URTVBQUFBSUd4MQ==");
  CHECK(options.nix_options.at("builders-use-substitutes") == "true");
  CHECK(options.nix_options.at("sandbox") == "false");
  CHECK(options.left_out.empty());
}

TEST_CASE("the user's own builders and substitute setting come first") {
  auto second = b2();
  second.name = "b3";
  second.host = "b3.example";
  second.user = "";
  second.host_key = "";
  auto options = build_options({{"builders", "ssh://big x86_64-linux"}, {"builders-use-substitutes", "false"}}, {b2(), second});
  const auto& builders = options.nix_options.at("builders");
  CHECK(builders.rfind("ssh://big x86_64-linux ; ssh-ng://root@10.0.0.12 ", 0) == 0);
  CHECK(builders.ends_with(" ; ssh-ng://b3.example x86_64-linux,i686-linux - 4 2 - - -"));
  CHECK(options.nix_options.at("builders-use-substitutes") == "false");
}

TEST_CASE("a remote builder on another port than 22 is left out, with the reason") {
  auto other = b2();
  other.port = 2222;
  auto options = build_options({{"sandbox", "false"}}, {other});
  CHECK(options.nix_options == std::map<std::string, std::string>{{"sandbox", "false"}});
  REQUIRE(options.left_out.size() == 1);
  CHECK(options.left_out[0] == "b2 is not a remote builder: nix's ssh-ng store reaches port 22 only, and b2 listens on 2222");
  CHECK(build_options({}, {}).nix_options.empty());
}

TEST_CASE("remote builders round-trip in a job; a job without them carries no remoteBuilders key") {
  auto job = job_with({b2()});
  CHECK(protocol::parse_build_job(protocol::to_json(job)) == job);
  CHECK_FALSE(protocol::to_json(job_with({})).contains("remoteBuilders"));
}

TEST_CASE("remote builder fields that could add to a machine line are refused") {
  auto json = protocol::to_json(job_with({b2()}));
  auto refused = [&](const char* key, nlohmann::json value, const char* message) {
    auto changed = json;
    changed["remoteBuilders"][0][key] = std::move(value);
    CHECK_THROWS_WITH(protocol::parse_build_job(changed), Catch::Contains(message));
  };
  refused("host", "10.0.0.12 x86_64-linux", "remoteBuilders.b2.host");
  refused("hostKey", "ssh-ed25519 AAAA\nssh-ng://evil", "remoteBuilders.b2.hostKey");
  refused("hostKey", "ssh-ed25519 AAAA - - x", "remoteBuilders.b2.hostKey");
  refused("systems", nlohmann::json::array(), "remoteBuilders.b2.systems");
  refused("systems", {"x86_64-linux,evil"}, "remoteBuilders.b2.systems");
  refused("maxJobs", 0, "remoteBuilders.b2.maxJobs");
  refused("speed", 100000, "remoteBuilders.b2.speed");
  refused("name", "-b2", "remoteBuilders[].name");
}
