// SPDX-License-Identifier: MIT
#include "coordinator/plan/delegation_planner.hpp"
#include "coordinator/run/build_job.hpp"
#include "coordinator/run/build_location.hpp"
#include "uploader/protocol/job.hpp"

#include <catch2/catch.hpp>

using namespace fleet;
using namespace fleet::coordinator;

namespace {

FleetConfig lab_like_config() {
  return parse_fleet_config(nlohmann::json::parse(R"({
    "version": 1,
    "builders": { "b1": { "host": "10.0.0.11", "user": "root", "systems": ["x86_64-linux"] },
                  "b2": { "host": "10.0.0.12", "port": 2222, "systems": ["x86_64-linux"] } },
    "defaults": { "action": "boot" },
    "nodes": {
      "t1": { "host": "10.0.0.21", "lowPower": true, "hostKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx1" },
      "t2": { "host": "10.0.0.22", "lowPower": true, "user": "deploy", "port": 2200 },
      "t3": { "host": "10.0.0.23", "build": "self", "action": "test" },
      "t4": { "host": "10.0.0.24", "build": "b2" }
    }
  })"),
                            std::filesystem::temp_directory_path() / "fleet.json");
}

const BuildLocation& named(const std::vector<BuildLocation>& locations, const std::string& name) {
  auto it = std::find_if(locations.begin(), locations.end(), [&](const BuildLocation& l) { return l.name == name; });
  REQUIRE(it != locations.end());
  return *it;
}

}  // namespace

TEST_CASE("build locations group delegated targets by builder and give self-builders their own") {
  auto config = lab_like_config();
  auto plan = plan_deployment(config, {"t1", "t2", "t3", "t4"});
  auto locations = build_locations(config, plan, std::nullopt);

  std::size_t targets = 0;
  for (const auto& location : locations) {
    targets += location.targets.size();
  }
  CHECK(targets == 4);

  const auto& self = named(locations, "t3");
  CHECK_FALSE(self.is_builder);
  CHECK(self.ssh.host == "10.0.0.23");
  REQUIRE(self.targets.size() == 1);
  CHECK(self.targets[0].mode == protocol::TargetMode::self);
  CHECK(self.targets[0].action == protocol::Action::test);

  const auto& b2 = named(locations, "b2");
  CHECK(b2.is_builder);
  CHECK(b2.ssh.port == 2222);
  auto t4 = std::find_if(b2.targets.begin(), b2.targets.end(), [](const auto& t) { return t.node == "t4"; });
  REQUIRE(t4 != b2.targets.end());
  CHECK(t4->mode == protocol::TargetMode::delegate);
  CHECK(t4->action == protocol::Action::boot);  // from defaults

  // Builders come first, in name order, then self-building nodes.
  CHECK(locations.back().name == "t3");
}

TEST_CASE("a target's substituteOnTarget reaches the agent's job, and only when set") {
  auto config = lab_like_config();
  config.nodes.at("t1").substitute_on_target = true;
  JobSource source;
  source.run_id = "run-1";
  source.source_hash = std::string(64, 'a');
  std::size_t targets = 0;
  nlohmann::json json;
  for (const auto& location : build_locations(config, plan_deployment(config, {"t1", "t2"}), std::nullopt)) {
    json = protocol::to_json(make_build_job(source, location, location.targets));
    for (const auto& target : json["targets"]) {
      CHECK(target.contains("substituteOnTarget") == (target["node"] == "t1"));
    }
    for (const auto& target : protocol::parse_build_job(json).targets) {
      CHECK(target.substitute_on_target == (target.node == "t1"));
      ++targets;
    }
  }
  CHECK(targets == 2);
  json["targets"][0]["substituteOnTarget"] = "yes";
  CHECK_THROWS_WITH(protocol::parse_build_job(json), Catch::Contains("substituteOnTarget' must be a boolean"));
}

TEST_CASE("delegated targets carry what the build node needs to reach them") {
  auto config = lab_like_config();
  auto locations = build_locations(config, plan_deployment(config, {"t1", "t2"}), protocol::Action::switch_);
  for (const auto& location : locations) {
    for (const auto& target : location.targets) {
      CHECK(target.action == protocol::Action::switch_);  // --action overrides every node's own
      if (target.node == "t1") {
        CHECK(target.host == "10.0.0.21");
        CHECK(target.host_key == "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx1");
      }
      if (target.node == "t2") {
        CHECK(target.user == "deploy");
        CHECK(target.port == 2200);
      }
    }
  }
}
