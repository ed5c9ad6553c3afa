// SPDX-License-Identifier: MIT
#include "coordinator/plan/delegation_planner.hpp"
#include "coordinator/plan/plan_printer.hpp"
#include "support/golden.hpp"

#include <catch2/catch.hpp>

using namespace fleet::coordinator;
using fleet::test::check_golden;
using nlohmann::json;

namespace {

DeployPlan example_plan() {
  FleetConfig config = parse_fleet_config(json::parse(R"({
    "version": 1,
    "builders": {
      "b1": { "systems": ["x86_64-linux", "aarch64-linux"], "maxJobs": 4, "site": "home" },
      "b2": { "systems": ["x86_64-linux"], "maxJobs": 4, "site": "cloud" }
    },
    "nodes": {
      "pi1": { "system": "aarch64-linux", "lowPower": true, "site": "home" },
      "web-1": { "site": "cloud" },
      "web-2": {},
      "laptop": { "build": "self" },
      "db-1": { "build": "b1" },
      "riscv": { "system": "riscv64-linux" }
    }
  })"),
                                          std::filesystem::temp_directory_path() / "fleet.json");
  return plan_deployment(config, {"pi1", "web-1", "web-2", "laptop", "db-1", "riscv"});
}

}  // namespace

TEST_CASE("the plan prints as an aligned table") {
  const std::string text = format_plan_text(example_plan());
  check_golden("plan/example.txt", text);
  CHECK(text.find(" \n") == std::string::npos);
  CHECK(format_plan_text(DeployPlan{}) == "NODE  SYSTEM  SITE  BUILDS-ON  BATCH  EVALUATORS  REASON\n");
}

TEST_CASE("the plan prints as JSON for fleet plan --json") {
  const json plan = plan_to_json(example_plan());
  check_golden("plan/example.json", plan.dump(2) + "\n");
  CHECK(plan.at("nodes").at("laptop").at("location") == "self");
  CHECK(plan.at("nodes").at("pi1").at("location") == "b1");
  CHECK(plan.at("builders") == json{"b1", "b2"});
}
