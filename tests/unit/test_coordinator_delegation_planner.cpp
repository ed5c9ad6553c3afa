// SPDX-License-Identifier: MIT
#include "coordinator/plan/delegation_planner.hpp"
#include "uploader/base/error.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

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
  CHECK(find(plan, "delegated").reason.rfind("set to delegate; b2: the only builder of aarch64-linux", 0) == 0);
  CHECK(where(plan, "auto-low") == "b2");
  CHECK(find(plan, "auto-low").reason.rfind("low-power; b2: the only builder of aarch64-linux", 0) == 0);
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

TEST_CASE("the site of a node is preferred, then the lowest cost") {
  const FleetConfig config = parse(R"({
    "version": 1,
    "builders": { "a-far": { "systems": ["x86_64-linux"], "site": "cloud" },
                  "z-home": { "systems": ["x86_64-linux"], "site": "home" } },
    "nodes": { "n1": { "site": "home" }, "n2": { "site": "home", "lowPower": true },
               "n3": { "site": "office" }, "n4": {} }
  })");
  const DeployPlan plan = plan_deployment(config, all_nodes(config));
  CHECK(where(plan, "n1") == "z-home");
  CHECK(find(plan, "n1").reason == "z-home: cost 3.00, lowest (a-far 6.00); in site home; first x86_64-linux target there");
  CHECK(where(plan, "n2") == "z-home");
  CHECK(find(plan, "n2").reason ==
        "low-power; z-home: cost 4.00, lowest (a-far 6.00); in site home; shares its x86_64-linux closure with 1 target");
  // Nothing in site office: every builder pays the cross-site cost, balancing picks the idle one.
  CHECK(where(plan, "n3") == "a-far");
  CHECK(find(plan, "n3").reason ==
        "a-far: cost 6.00, lowest (z-home 8.00); no builder in site office; first x86_64-linux target there");
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
  CHECK(find(plan, "t1").reason == "b1: cost 3.50, tied with b2, first by name; first x86_64-linux target there");
  CHECK(find(plan, "t3").reason ==
        "b1: cost 4.00, tied with b2, first by name; shares its x86_64-linux closure with 1 target");
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
  // big has capacity 3 and small 1, already holding z-pinned (work 1 + 2 for its closure): big's
  // finish after k targets is (2 + k) / 3, small's next would be 4, so big takes all seven.
  CHECK(plan.nodes_built_by("big") == Names{"a1", "a2", "a3", "a4", "a5", "a6", "a7"});
  CHECK(plan.nodes_built_by("small") == Names{"z-pinned"});
  FleetConfig more = config;
  for (const char* name : {"a8", "a9", "b0"}) {
    more.nodes[name] = more.nodes.at("a1");
    more.nodes[name].name = name;
  }
  const DeployPlan bigger = plan_deployment(more, all_nodes(more));
  // The tenth ties at 4.00 on both, each already building x86_64-linux and finishing at 4.00: by name.
  CHECK(bigger.nodes_built_by("small") == Names{"z-pinned"});
  CHECK(find(bigger, "b0").reason == "big: cost 4.00, tied with small, first by name; shares its x86_64-linux "
                                     "closure with 9 targets");
}

TEST_CASE("a node that is itself a capable builder builds on itself as that builder") {
  const FleetConfig config = parse(R"({
    "version": 1,
    "builders": { "a": { "systems": ["x86_64-linux"] }, "big": { "systems": ["x86_64-linux"], "maxJobs": 8 } },
    "nodes": { "big": {} }
  })");
  const DeployPlan plan = plan_deployment(config, {"big"});
  CHECK(where(plan, "big") == "big");
  CHECK(find(plan, "big").reason == "big is itself a builder of x86_64-linux and builds itself");
}

TEST_CASE("a single capable builder is named as the only one") {
  const FleetConfig config = parse(R"({"version": 1,
    "builders": { "b1": { "systems": ["aarch64-linux"] }, "b2": { "systems": ["x86_64-linux"] } },
    "nodes": { "pi": { "system": "aarch64-linux", "build": "delegate" } }})");
  CHECK(plan_deployment(config, {"pi"}).assignments.at(0).reason ==
        "set to delegate; b1: the only builder of aarch64-linux; first aarch64-linux target there");
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

TEST_CASE("targets of one system stay together while balance allows") {
  const FleetConfig config = parse(R"({
    "version": 1,
    "builders": { "b1": { "systems": ["x86_64-linux", "aarch64-linux"], "maxJobs": 4 },
                  "b2": { "systems": ["x86_64-linux", "aarch64-linux"], "maxJobs": 4 } },
    "nodes": { "a-1": { "system": "aarch64-linux" }, "a-2": { "system": "aarch64-linux" }, "x-1": {}, "x-2": {} }
  })");
  const DeployPlan plan = plan_deployment(config, all_nodes(config));
  // Spreading would build both closures on both builders; balanced is (4 + 2 × 2) / 8 = 1.00.
  CHECK(plan.nodes_built_by("b1") == Names{"a-1", "a-2"});
  CHECK(plan.nodes_built_by("b2") == Names{"x-1", "x-2"});
  CHECK(find(plan, "a-2").reason == "b1: cost 1.00, tied with b2, which does not build aarch64-linux yet; shares "
                                    "its aarch64-linux closure with 1 target");
  CHECK(find(plan, "x-1").reason == "b2: cost 1.00, lowest (b1 1.75); first x86_64-linux target there");
}

TEST_CASE("a large group is split when balance says so") {
  FleetConfig config = parse(R"({"version": 1,
    "builders": { "b1": { "systems": ["x86_64-linux"], "maxJobs": 4 }, "b2": { "systems": ["x86_64-linux"], "maxJobs": 4 } },
    "nodes": { "n00": {} }})");
  for (int i = 1; i < 10; ++i) {
    std::string name = "n0" + std::to_string(i);
    config.nodes[name] = config.nodes.at("n00");
    config.nodes[name].name = name;
  }
  const DeployPlan plan = plan_deployment(config, all_nodes(config));
  // Balanced is (10 + 2) / 8 = 1.5: b1 fills to 1.5 with four, then b2 opens the system.
  CHECK(plan.nodes_built_by("b1") == Names{"n00", "n01", "n02", "n03", "n08"});
  CHECK(plan.nodes_built_by("b2") == Names{"n04", "n05", "n06", "n07", "n09"});
  CHECK(find(plan, "n04").reason == "b2: cost 1.50, lowest (b1 1.75); first x86_64-linux target there");
}

TEST_CASE("equal costs go to the builder that finishes sooner") {
  FleetConfig config = parse(R"({"version": 1,
    "builders": { "b1": { "systems": ["x86_64-linux"] }, "b2": { "systems": ["x86_64-linux"], "maxJobs": 2 } },
    "nodes": { "n0": {} }})");
  for (int i = 1; i < 10; ++i) {
    std::string name = "n" + std::to_string(i);
    config.nodes[name] = config.nodes.at("n0");
    config.nodes[name].name = name;
  }
  // Balanced is (10 + 2) / 3 = 4: b1 would finish at 3, b2 at 1.5, both under it.
  const DeployPlan plan = plan_deployment(config, all_nodes(config));
  CHECK(find(plan, "n0").reason == "b2: cost 4.00, tied with b1, which would finish later; first x86_64-linux target there");
}

TEST_CASE("a busy home site overflows to another site") {
  FleetConfig config = parse(R"({"version": 1,
    "builders": { "home": { "systems": ["x86_64-linux"], "site": "home" },
                  "cloud": { "systems": ["x86_64-linux"], "maxJobs": 4, "site": "cloud" } },
    "nodes": { "n00": { "site": "home" } }})");
  for (int i = 1; i < 10; ++i) {
    std::string name = "n0" + std::to_string(i);
    config.nodes[name] = config.nodes.at("n00");
    config.nodes[name].name = name;
  }
  // Balanced is (10 + 2) / 5 = 2.4; home's k-th target finishes at 2 + k, cloud costs 2.4 + 3 = 5.4.
  const DeployPlan plan = plan_deployment(config, all_nodes(config));
  CHECK(plan.nodes_built_by("home") == Names{"n00", "n01", "n02"});
  CHECK(plan.nodes_built_by("cloud").size() == 7);
  CHECK(find(plan, "n03").reason == "cloud: cost 5.40, lowest (home 6.00); outside site home, whose builders are "
                                    "busier; first x86_64-linux target there");
}

TEST_CASE("unavailable builders are planned around, pinned nodes are never moved") {
  const FleetConfig config = parse(R"({"version": 1,
    "builders": { "b1": { "systems": ["x86_64-linux"] }, "b2": { "systems": ["x86_64-linux"] } },
    "nodes": { "low": { "lowPower": true }, "auto": {}, "pinned": { "build": "b1" }, "deleg": { "build": "delegate" },
               "own": { "build": "self" } }})");
  PlanOptions one;
  one.unavailable_builders["b1"] = "unreachable: connection refused";
  const DeployPlan plan = plan_deployment(config, all_nodes(config), one);
  CHECK(where(plan, "low") == "b2");
  CHECK(find(plan, "low").reason == "low-power; b2: the only available builder of x86_64-linux; shares its "
                                    "x86_64-linux closure with 2 targets; avoids b1: unreachable: connection refused");
  CHECK(find(plan, "pinned").location == Location::none);
  CHECK(find(plan, "pinned").reason == "pinned to b1, which is unavailable (unreachable: connection refused); a pinned "
                                       "node is never moved");
  CHECK(where(plan, "own") == "self");
  CHECK(plan.builders_used() == Names{"b2"});

  PlanOptions both = one;
  both.unavailable_builders["b2"] = "its agent died";
  const DeployPlan none = plan_deployment(config, all_nodes(config), both);
  CHECK(find(none, "low").location == Location::none);
  CHECK(find(none, "low").reason == "every builder of x86_64-linux is unavailable (b1: unreachable: connection refused, "
                                    "b2: its agent died) and the node may not build itself (lowPower)");
  CHECK(find(none, "deleg").location == Location::none);
  CHECK(find(none, "deleg").reason.find("may not build itself (build: delegate)") != std::string::npos);
  CHECK(where(none, "auto") == "self");
  CHECK(find(none, "auto").reason.rfind("every builder of x86_64-linux is unavailable (", 0) == 0);
  CHECK(none.builders_used().empty());
}

TEST_CASE("batch estimates follow memoryMB and evalMemoryMB") {
  FleetConfig config = parse(R"({"version": 1, "evalMemoryMB": 1000,
    "builders": { "b1": { "systems": ["x86_64-linux", "aarch64-linux"], "memoryMB": 4500, "maxJobs": 64 },
                  "b2": { "systems": ["riscv64-linux"], "memoryMB": 4500, "evalMemoryMB": 3000 },
                  "b3": { "systems": ["i686-linux"] } },
    "nodes": { "x1": {}, "x2": {}, "x3": {}, "a1": { "system": "aarch64-linux" }, "a2": { "system": "aarch64-linux" },
               "r1": { "system": "riscv64-linux" }, "r2": { "system": "riscv64-linux" },
               "i1": { "system": "i686-linux", "lowPower": true }, "own": { "build": "self" } }})");
  CHECK(config.builders.at("b1").eval_memory_mb == 1000);
  CHECK(config.builders.at("b2").eval_memory_mb == 3000);
  const DeployPlan plan = plan_deployment(config, all_nodes(config));
  // b1 holds four per batch: five targets make two even batches in system then node order,
  // a1 a2 x1 | x2 x3.
  for (const char* node : {"a1", "a2", "x1"}) {
    CHECK(find(plan, node).batch == 1);
    CHECK(find(plan, node).batches == 2);
  }
  CHECK(find(plan, "x2").batch == 2);
  CHECK(find(plan, "x3").batch == 2);
  CHECK(find(plan, "r1").batch == 1);
  CHECK(find(plan, "r2").batch == 2);  // one per batch
  CHECK(find(plan, "i1").batch == 0);  // no memoryMB: the agent decides
  CHECK(find(plan, "own").batch == 1);

  // Evaluators: a batch's targets, at most maxJobs (64 on b1, 1 by default).
  CHECK(find(plan, "a1").workers == 3);
  CHECK(find(plan, "x3").workers == 2);
  CHECK(find(plan, "r1").workers == 1);
  CHECK(find(plan, "i1").workers == 1);
  CHECK(find(plan, "own").workers == 1);
}

TEST_CASE("a builder without systems is refused") {
  FleetConfig config;
  config.file = "/fleet/fleet.json";
  config.builders["b1"] = BuilderSpec{"b1", "b1", "root", 22, {}, 1, 1, "", 1024, 0};
  NodeSpec node;
  node.name = "n";
  node.build = BuildMode::self;
  config.nodes["n"] = node;
  CHECK_THROWS_WITH(plan_deployment(config, {"n"}), "/fleet/fleet.json: builders.b1.systems: a builder needs the systems "
                                                    "it can build; add \"systems\": [\"x86_64-linux\"]");
  CHECK_THROWS_WITH(parse(R"({"version": 1, "builders": {"b1": {"systems": []}}, "nodes": {"n": {}}})"),
                    Catch::Contains("builders.b1.systems: a builder needs the systems"));
}

TEST_CASE("evalMemoryMB and memoryMB are validated") {
  CHECK_THROWS_WITH(parse(R"({"version": 1, "evalMemoryMB": 0, "nodes": {"n": {}}})"),
                    Catch::Contains("evalMemoryMB: 0 MiB is out of range"));
  CHECK_THROWS_WITH(parse(R"({"version": 1, "evalMemoryMB": "1G", "nodes": {"n": {}}})"), Catch::Contains("evalMemoryMB"));
  CHECK_THROWS_WITH(parse(R"({"version": 1, "builders": {"b": {"systems": ["x86_64-linux"], "memoryMB": -5}},
                              "nodes": {"n": {}}})"),
                    Catch::Contains("builders.b.memoryMB: -5 MiB is out of range"));
  // README.md's documented default, written out so that changing the constant breaks this.
  CHECK(parse(R"({"version": 1, "nodes": {"n": {}}})").eval_memory_mb == 1024);
}

TEST_CASE("5,000 targets over 100 builders: every node on a capable builder, work balanced") {
  FleetConfig config;
  config.file = "/fleet/fleet.json";
  const std::vector<std::string> systems{"x86_64-linux", "aarch64-linux", "riscv64-linux"};
  for (int b = 0; b < 100; ++b) {
    BuilderSpec builder{"b" + std::to_string(b), "h", "", 0, {systems[static_cast<std::size_t>(b % 3)]}, 1 + b % 4, 1,
                        "s" + std::to_string(b % 5), 1024, 0};
    if (b % 2 == 0) {
      builder.systems.push_back("x86_64-linux");
    }
    config.builders[builder.name] = builder;
  }
  for (int n = 0; n < 5000; ++n) {
    NodeSpec node;
    node.name = "n" + std::to_string(n);
    node.system = systems[static_cast<std::size_t>(n % 3)];
    node.site = "s" + std::to_string(n % 7);
    node.low_power = n % 2 == 0;
    config.nodes[node.name] = node;
  }
  const DeployPlan plan = plan_deployment(config, all_nodes(config));
  REQUIRE(plan.assignments.size() == 5000);
  std::map<std::string, double> work;
  for (const auto& a : plan.assignments) {
    REQUIRE(a.location == Location::builder);
    const auto& builder_systems = config.builders.at(a.builder).systems;
    CHECK(std::find(builder_systems.begin(), builder_systems.end(), a.system) != builder_systems.end());
    work[a.builder] += 1.0 / config.builders.at(a.builder).max_jobs;
  }
  CHECK(work.size() == 100);
  auto [low, high] = std::minmax_element(work.begin(), work.end(),
                                         [](const auto& a, const auto& b) { return a.second < b.second; });
  CHECK(high->second < 3 * low->second);
}
