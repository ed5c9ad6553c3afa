// SPDX-License-Identifier: MIT
#include "coordinator/plan/delegation_planner.hpp"
#include "uploader/base/error.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace fleet;
using namespace fleet::coordinator;
using nlohmann::json;
using Names = std::vector<std::string>;

namespace {

FleetConfig parse(const std::string& text) {
  return parse_fleet_config(json::parse(text), std::filesystem::temp_directory_path() / "fleet.json");
}

Names all_nodes(const FleetConfig& config) {
  Names names;
  for (const auto& [name, node] : config.nodes) {
    names.push_back(name);
  }
  return names;
}

const Assignment& find(const DeployPlan& plan, const std::string& node) {
  auto found = std::find_if(plan.assignments.begin(), plan.assignments.end(),
                            [&](const Assignment& a) { return a.node == node; });
  REQUIRE(found != plan.assignments.end());
  return *found;
}

std::string where(const DeployPlan& plan, const std::string& node) {
  const Assignment& assignment = find(plan, node);
  return assignment.location == Location::self ? "self" : assignment.builder;
}

}  // namespace

TEST_CASE("each build mode follows its rule") {
  const FleetConfig config = parse(R"({
    "version": 1,
    "builders": { "b1": { "systems": ["x86_64-linux"] },
                  "b2": { "systems": ["x86_64-linux", "aarch64-linux"] } },
    "nodes": {
      "self-x86": { "build": "self" },
      "pinned": { "build": "b2" },
      "delegated": { "build": "delegate", "system": "aarch64-linux" },
      "auto-low": { "lowPower": true, "system": "aarch64-linux" },
      "auto-x86": {},
      "auto-riscv": { "system": "riscv64-linux" }
    }
  })");
  const DeployPlan plan = plan_deployment(config, all_nodes(config));

  REQUIRE(plan.assignments.size() == 6);
  CHECK(plan.assignments.front().node == "auto-low");  // node order
  CHECK(find(plan, "self-x86").location == Location::self);
  CHECK(find(plan, "self-x86").reason == "configured to build itself");
  CHECK(where(plan, "pinned") == "b2");
  CHECK(find(plan, "pinned").reason == "pinned to b2, which builds x86_64-linux");
  CHECK(where(plan, "delegated") == "b2");
  CHECK(find(plan, "delegated").reason.rfind("configured to delegate; b2 builds aarch64-linux", 0) == 0);
  CHECK(where(plan, "auto-low") == "b2");
  CHECK(find(plan, "auto-low").reason.rfind("low-power node; b2 builds aarch64-linux", 0) == 0);
  CHECK(find(plan, "auto-low").system == "aarch64-linux");
  CHECK(find(plan, "auto-x86").location == Location::builder);
  CHECK(where(plan, "auto-riscv") == "self");
  CHECK(find(plan, "auto-riscv").reason == "no builder builds riscv64-linux; builds itself");
  CHECK(plan.builders_used() == Names{"b1", "b2"});
}

TEST_CASE("only the selected nodes are planned") {
  const FleetConfig config = parse(R"({"version": 1, "builders": {"b1": {"systems": ["x86_64-linux"]}},
                                       "nodes": {"a": {}, "b": {}, "c": {"build": "self"}}})");
  const DeployPlan plan = plan_deployment(config, {"c", "a"});
  REQUIRE(plan.assignments.size() == 2);
  CHECK(plan.assignments[0].node == "a");
  CHECK(plan.assignments[1].node == "c");
  CHECK(plan.nodes_built_by("b1") == Names{"a"});
  CHECK_THROWS_AS(plan_deployment(config, {"nope"}), ConfigError);
}

TEST_CASE("the site of a node is preferred, then the least loaded builder") {
  const FleetConfig config = parse(R"({
    "version": 1,
    "builders": { "a-far": { "systems": ["x86_64-linux"], "site": "cloud" },
                  "z-home": { "systems": ["x86_64-linux"], "site": "home" } },
    "nodes": { "n1": { "site": "home" }, "n2": { "site": "home", "lowPower": true },
               "n3": { "site": "office" }, "n4": {} }
  })");
  const DeployPlan plan = plan_deployment(config, all_nodes(config));
  CHECK(where(plan, "n1") == "z-home");
  CHECK(find(plan, "n1").reason == "z-home builds x86_64-linux in site home");
  CHECK(where(plan, "n2") == "z-home");
  CHECK(find(plan, "n2").reason == "low-power node; z-home builds x86_64-linux in site home");
  // Nothing in site office: balancing picks the idle builder.
  CHECK(where(plan, "n3") == "a-far");
  CHECK(find(plan, "n3").reason == "a-far builds x86_64-linux (none in site office), least loaded");
  CHECK(where(plan, "n4") == "a-far");
}

TEST_CASE("targets are balanced across equal builders, ties broken by name") {
  const FleetConfig config = parse(R"({
    "version": 1,
    "builders": { "b2": { "systems": ["x86_64-linux"] }, "b1": { "systems": ["x86_64-linux"] } },
    "nodes": { "t1": {}, "t2": {}, "t3": {}, "t4": {}, "t5": {} }
  })");
  const DeployPlan plan = plan_deployment(config, all_nodes(config));
  CHECK(where(plan, "t1") == "b1");
  CHECK(where(plan, "t2") == "b2");
  CHECK(where(plan, "t3") == "b1");
  CHECK(where(plan, "t4") == "b2");
  CHECK(where(plan, "t5") == "b1");
  CHECK(plan.nodes_built_by("b1") == Names{"t1", "t3", "t5"});
  CHECK(find(plan, "t1").reason == "b1 builds x86_64-linux, least loaded");
}

TEST_CASE("load is weighted by maxJobs and speed, and pinned nodes count first") {
  const FleetConfig config = parse(R"({
    "version": 1,
    "builders": { "big": { "systems": ["x86_64-linux"], "maxJobs": 2, "speed": 1.5 },
                  "small": { "systems": ["x86_64-linux"] } },
    "nodes": { "a1": {}, "a2": {}, "a3": {}, "a4": {}, "a5": {}, "a6": {}, "a7": {},
               "z-pinned": { "build": "small" } }
  })");
  const DeployPlan plan = plan_deployment(config, all_nodes(config));
  // big has capacity 3 and small 1, already holding z-pinned: big takes six (its load reaches 2,
  // a tie with small's, won by name) before small gets a second.
  CHECK(plan.nodes_built_by("big") == Names{"a1", "a2", "a3", "a4", "a5", "a6"});
  CHECK(plan.nodes_built_by("small") == Names{"a7", "z-pinned"});
}

TEST_CASE("a node that is itself a capable builder builds on itself as that builder") {
  const FleetConfig config = parse(R"({
    "version": 1,
    "builders": { "a": { "systems": ["x86_64-linux"] }, "big": { "systems": ["x86_64-linux"], "maxJobs": 8 } },
    "nodes": { "big": {} }
  })");
  const DeployPlan plan = plan_deployment(config, {"big"});
  CHECK(where(plan, "big") == "big");
  CHECK(find(plan, "big").reason == "big builds x86_64-linux (the node is builder big itself)");
}

TEST_CASE("a single capable builder is named as the only one") {
  const FleetConfig config = parse(R"({"version": 1,
    "builders": { "b1": { "systems": ["aarch64-linux"] }, "b2": { "systems": ["x86_64-linux"] } },
    "nodes": { "pi": { "system": "aarch64-linux", "build": "delegate" } }})");
  CHECK(plan_deployment(config, {"pi"}).assignments.at(0).reason ==
        "configured to delegate; b1 builds aarch64-linux, the only one that does");
}

TEST_CASE("the planner refuses plans the config cannot support") {
  // Built by hand: parse_fleet_config already refuses these, the planner must not trust callers.
  FleetConfig config;
  config.file = "/fleet/fleet.json";
  config.builders["b1"] = BuilderSpec{"b1", "b1", "root", 22, {"x86_64-linux"}, 1, 1, ""};
  NodeSpec node;
  node.name = "pi";
  node.system = "aarch64-linux";

  SECTION("pinned builder without the system") {
    node.build = BuildMode::pinned;
    node.pinned_builder = "b1";
    config.nodes["pi"] = node;
    CHECK_THROWS_WITH(plan_deployment(config, {"pi"}),
                      "/fleet/fleet.json: nodes.pi.build: builder 'b1' does not build aarch64-linux; add "
                      "\"aarch64-linux\" to builders.b1.systems or pin another builder");
  }
  SECTION("pinned builder that does not exist") {
    node.build = BuildMode::pinned;
    node.pinned_builder = "b7";
    config.nodes["pi"] = node;
    CHECK_THROWS_WITH(plan_deployment(config, {"pi"}), Catch::Contains("'b7' is not a builder"));
  }
  SECTION("delegate with no capable builder") {
    node.build = BuildMode::delegate;
    config.nodes["pi"] = node;
    CHECK_THROWS_WITH(plan_deployment(config, {"pi"}), Catch::StartsWith("/fleet/fleet.json: nodes.pi.system: no builder "
                                                                        "builds aarch64-linux"));
  }
  SECTION("low-power with no capable builder") {
    node.low_power = true;
    config.nodes["pi"] = node;
    CHECK_THROWS_AS(plan_deployment(config, {"pi"}), ConfigError);
  }
}

TEST_CASE("plans are deterministic") {
  const FleetConfig config = parse(R"({
    "version": 1,
    "builders": { "b1": { "systems": ["x86_64-linux"], "site": "x" }, "b2": { "systems": ["x86_64-linux"] },
                  "b3": { "systems": ["x86_64-linux"], "maxJobs": 3 } },
    "nodes": { "n1": {}, "n2": { "site": "x" }, "n3": {}, "n4": {}, "n5": { "lowPower": true }, "n6": {} }
  })");
  Names forward = all_nodes(config);
  Names backward(forward.rbegin(), forward.rend());
  const DeployPlan first = plan_deployment(config, forward);
  for (int i = 0; i < 3; ++i) {
    CHECK(plan_deployment(config, forward).assignments == first.assignments);
  }
  CHECK(plan_deployment(config, backward).assignments == first.assignments);
}
