// SPDX-License-Identifier: MIT
#include "coordinator/report/run_recorder.hpp"
#include "support/run_samples.hpp"
#include "coordinator/run/failover.hpp"

#include <catch2/catch.hpp>

using namespace fleet::coordinator;
using nlohmann::json;

namespace {

FleetConfig lab_like() {
  return parse_fleet_config(json::parse(R"({"version": 1, "evalMemoryMB": 512,
    "builders": { "b1": { "host": "10.0.0.11", "systems": ["x86_64-linux"] },
                  "b2": { "host": "10.0.0.12", "systems": ["x86_64-linux"], "evalMemoryMB": 2048 } },
    "nodes": { "t1": { "lowPower": true }, "t2": { "lowPower": true }, "t3": {}, "t4": { "build": "b1" } }})"),
                            std::filesystem::temp_directory_path() / "fleet.json");
}

}  // namespace

TEST_CASE("failover moves a dead builder's nodes to another one, or to themselves") {
  const FleetConfig config = lab_like();
  FailoverPlan plan = plan_failover(config, {"t1", "t2", "t3", "t4"}, {{"b1", "died (signal KILL)"}}, fleet::protocol::Action::test);
  CHECK(plan.moved_to == std::map<std::string, std::string>{{"t1", "b2"}, {"t2", "b2"}, {"t3", "b2"}});
  CHECK(plan.stranded.at("t4") == "pinned to b1, which is unavailable (died (signal KILL)); a pinned node is never moved");
  REQUIRE(plan.locations.size() == 1);
  CHECK(plan.locations[0].name == "b2");
  CHECK(plan.locations[0].eval_memory_mb == 2048);
  CHECK(plan.locations[0].targets.size() == 3);
  CHECK(plan.locations[0].targets[0].action == fleet::protocol::Action::test);
  CHECK(plan.reasons.at("t1").find("avoids b1: died (signal KILL)") != std::string::npos);

  FailoverPlan none = plan_failover(config, {"t1", "t3"}, {{"b1", "died"}, {"b2", "is unreachable"}}, std::nullopt);
  CHECK(none.stranded.count("t1") == 1);
  CHECK(none.moved_to.at("t3") == "self");
  REQUIRE(none.locations.size() == 1);
  CHECK(none.locations[0].name == "t3");
  CHECK_FALSE(none.locations[0].is_builder);
  CHECK(none.locations[0].eval_memory_mb == 512);
}

TEST_CASE("moves are recorded in the report") {
  fleet::test::TrackedRun run("run-1", {"t1"}, 100);
  run.feed({101, "t1", fleet::protocol::Phase::build, fleet::protocol::Status::start, "", json::object()});
  run.tracker.move("t1", 1, fleet::protocol::Phase::activate,
                   {"b1", "b2", "b1 died (signal KILL); b2: the only available builder"}, 105);
  run.tracker.on_event(1, {106, "t1", fleet::protocol::Phase::activate, fleet::protocol::Status::ok, "", json::object()});
  run.tracker.job_ended(1, 107);
  RunReport report = run.recorder.finish("h", "switch", "fleet.json", 110);
  const NodeOutcome& t1 = report.nodes.at("t1");
  CHECK(t1.built_on == "b2");
  REQUIRE(t1.moves.size() == 1);
  CHECK(t1.moves[0] == NodeMove{"b1", "b2", "b1 died (signal KILL); b2: the only available builder"});
  REQUIRE(t1.phases.size() == 2);
  CHECK(t1.phases[0] == PhaseTiming{"build", 4, "fail"});  // the interrupted build on b1
  CHECK(t1.phases[1] == PhaseTiming{"activate", 0, "ok"});
  CHECK(t1.result == "ok");
  const json out = to_json(report);
  CHECK(out["nodes"]["t1"]["moves"][0]["to"] == "b2");
  CHECK(report_from_json(out) == report);
  RunRecorder plain("run-2", {"t1"}, 100);
  CHECK_FALSE(to_json(plain.finish("h", "switch", "f", 101))["nodes"]["t1"].contains("moves"));
}
