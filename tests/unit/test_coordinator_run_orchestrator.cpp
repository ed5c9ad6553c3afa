// SPDX-License-Identifier: MIT
// The run orchestrator against scripted agents (support/fake_agents.hpp): failover, relay
// fallback, reattachment, byte accounting and a large fleet, without SSH or nix.
#include "coordinator/config/fleet_config.hpp"
#include "coordinator/plan/delegation_planner.hpp"
#include "coordinator/report/run_recorder.hpp"
#include "coordinator/run/build_location.hpp"
#include "coordinator/run/node_state.hpp"
#include "coordinator/run/run_orchestrator.hpp"
#include "coordinator/view/progress_view.hpp"

#include "support/fake_agents.hpp"

#include <catch2/catch.hpp>

#include <filesystem>

using namespace fleet;
using namespace fleet::coordinator;
using nlohmann::json;

namespace {

// A view that keeps every note, to check what the user was told.
class NoteView final : public ProgressView {
public:
  void on_transition(const NodeTransition&) override {}
  void on_message(std::string_view text) override { notes.emplace_back(text); }
  void tick(double) override {}
  void finish(const RunReport&, const std::filesystem::path&) override {}
  std::vector<std::string> notes;
};

tarball::PackedTarball source(char fill) {
  tarball::PackedTarball packed;
  packed.content_hash = std::string(64, fill);
  packed.compressed = std::string(1000, fill);
  packed.file_count = 1;
  return packed;
}

// One run of `config_text` against `agents`, as sync-and-build wires it.
struct FakeRun {
  FleetConfig config;
  DeployPlan plan;
  std::vector<std::string> nodes;
  tarball::PackedTarball packed = source('a');
  NoteView view;

  explicit FakeRun(const std::string& config_text)
      : config(parse_fleet_config(json::parse(config_text), std::filesystem::temp_directory_path() / "fleet.json")) {
    for (const auto& [name, node] : config.nodes) {
      nodes.push_back(name);
    }
    plan = plan_deployment(config, nodes);
  }

  RunInputs inputs() const {
    RunInputs inputs;
    inputs.job = {"run-1", "", ".", {}, {}};
    inputs.tarball = &packed;
    inputs.locations = build_locations(config, plan, std::nullopt);
    inputs.jobs = 4;
    inputs.config = &config;
    return inputs;
  }

  std::pair<RunReport, RunOutcome> run(test::FakeAgents& agents, RunInputs run_inputs) {
    RunRecorder recorder("run-1", nodes, 0);
    for (const auto& assignment : plan.assignments) {
      recorder.set_built_on(assignment.node, assignment.location == Location::self ? "self" : assignment.builder);
    }
    NodeTracker tracker(nodes);
    tracker.subscribe(recorder);
    tracker.subscribe(view);
    auto outcome = RunOrchestrator(std::move(run_inputs), agents.factory(), tracker, recorder, view).run();
    return {recorder.finish(outcome.source_hash, "switch", "fleet.json", 1), outcome};
  }
  std::pair<RunReport, RunOutcome> run(test::FakeAgents& agents) { return run(agents, inputs()); }
};

const char* k_two_builders = R"({"version": 1,
  "builders": { "b1": { "host": "b1", "systems": ["x86_64-linux"] },
                "b2": { "host": "b2", "systems": ["x86_64-linux"] } },
  "nodes": { "t1": { "lowPower": true, "build": "delegate" }, "t2": { "lowPower": true, "build": "delegate" },
             "t3": { "build": "self" } }})";

std::vector<std::string> laptop_transfers(const RunReport& report) {
  std::vector<std::string> to;
  for (const auto& transfer : report.transfers) {
    if (transfer.from == k_laptop && !transfer.skipped) {
      to.push_back(transfer.to);
    }
  }
  return to;
}

// The error `node` failed with; it must have failed.
std::string failed_with(const RunReport& report, const std::string& node) {
  INFO(node);
  CHECK(report.nodes.at(node).result == "failed");
  return report.nodes.at(node).error;
}

void require_all_ok(const RunReport& report) {
  for (const auto& [name, node] : report.nodes) {
    INFO(name << ": " << node.error);
    CHECK(node.result == "ok");
  }
  CHECK(report.exit_code() == 0);
}

}  // namespace

TEST_CASE("a run uploads once from the laptop and lets the nodes relay the source") {
  FakeRun run(k_two_builders);
  test::FakeAgents agents;
  auto [report, outcome] = run.run(agents);
  require_all_ok(report);
  CHECK(laptop_transfers(report).size() == 1);
  CHECK(report.uploaded_bytes() == test::FakeAgents::k_whole_bytes);
  CHECK(report.transfers.size() == 3);  // laptop → one builder, then relays to the other and to t3
  for (const auto* where : {"b1", "b2", "t3"}) {
    CHECK(agents.holds(where, run.packed.content_hash));
  }
  CHECK(outcome.source_hash == run.packed.content_hash);
  CHECK(agents.count("t3 confirm act-t3") == 1);
  // Every location was checked before anything was sent.
  auto calls = agents.calls();
  auto first_upload = std::find(calls.begin(), calls.end(), "b1 upload");
  REQUIRE(first_upload != calls.end());
  CHECK(std::count(calls.begin(), first_upload, std::string("b2 connect")) == 1);
  CHECK(std::count(calls.begin(), first_upload, std::string("t3 connect")) == 1);
}

TEST_CASE("a builder that dies mid-build has its unfinished nodes rebuilt on another") {
  // Both targets are b1's (same site); b2 is the other builder.
  FakeRun run(R"({"version": 1,
    "builders": { "b1": { "host": "b1", "systems": ["x86_64-linux"], "site": "home" },
                  "b2": { "host": "b2", "systems": ["x86_64-linux"], "site": "away" } },
    "nodes": { "t1": { "lowPower": true, "site": "home" }, "t2": { "lowPower": true, "site": "home" } }})");
  test::FakeAgents agents;
  // b1's connection drops once t1 is done (build start, build ok, copy ok, activate ok) and t2's
  // build has started.
  agents.scripts["b1"].drop_job_after = 5;
  auto [report, outcome] = run.run(agents);
  require_all_ok(report);
  CHECK(report.nodes.at("t1").moves.empty());
  CHECK(report.nodes.at("t1").built_on == "b1");
  const auto& moved = report.nodes.at("t2");
  REQUIRE(moved.moves.size() == 1);
  CHECK(moved.moves[0].from == "b1");
  CHECK(moved.moves[0].to == "b2");
  CHECK(moved.moves[0].reason.find("b1 died (connection to b1 lost)") == 0);
  CHECK(moved.built_on == "b2");
  // b2's job is t2's alone, in a work directory of its own.
  auto jobs = agents.jobs("b2");
  REQUIRE(jobs.size() == 1);
  REQUIRE(jobs[0].targets.size() == 1);
  CHECK(jobs[0].targets[0].node == "t2");
  CHECK(jobs[0].run_id != "run-1");
  CHECK(agents.jobs("b1").at(0).targets.size() == 2);
}

TEST_CASE("an unreachable builder's nodes move before anything is built") {
  FakeRun run(k_two_builders);
  test::FakeAgents agents;
  agents.scripts["b1"].unreachable = true;
  agents.scripts["b2"].unreachable = true;
  SECTION("with no builder left, delegated targets fail and say why") {
    auto [report, outcome] = run.run(agents);
    CHECK(report.nodes.at("t1").result == "failed");
    CHECK(report.nodes.at("t1").error.find("every builder of x86_64-linux is unavailable") != std::string::npos);
    CHECK(report.nodes.at("t3").result == "ok");
    CHECK(laptop_transfers(report) == std::vector<std::string>{"t3"});
  }
}

TEST_CASE("an agent of another protocol is refused before the source is sent, naming both versions and the fix") {
  FakeRun run(R"({"version": 1, "nodes": { "t3": { "build": "self" } }})");
  test::FakeAgents agents;
  const auto ours = protocol::this_agent_version();
  agents.scripts["t3"].agent = {"fleet-builder", "0.0.9", ours.protocol + 1};
  auto [report, outcome] = run.run(agents);
  auto error = failed_with(report, "t3");
  INFO(error);
  CHECK(error.find("fleet-builder on t3 is 0.0.9 (protocol " + std::to_string(ours.protocol + 1) + "), this fleet is " +
                   ours.version + " (protocol " + std::to_string(ours.protocol) + ")") != std::string::npos);
  CHECK(error.find("install fleet-builder " + ours.version + " on t3: ") != std::string::npos);
  CHECK(error.find("nix profile install") != std::string::npos);
  CHECK(agents.count("t3 upload") == 0);
}

TEST_CASE("an agent of another release that speaks this protocol is used") {
  FakeRun run(R"({"version": 1, "nodes": { "t3": { "build": "self" } }})");
  test::FakeAgents agents;
  agents.scripts["t3"].agent.version = "0.0.9+other";
  auto [report, outcome] = run.run(agents);
  require_all_ok(report);
  CHECK(agents.count("t3 job t3") == 1);
}

TEST_CASE("a location without an agent fails with how to install one, and nothing is sent to it") {
  FakeRun run(k_two_builders);
  test::FakeAgents agents;
  SECTION("a self-building target") {
    agents.scripts["t3"].no_agent = true;
    auto [report, outcome] = run.run(agents);
    auto error = failed_with(report, "t3");
    INFO(error);
    CHECK(error.find("fleet-builder is not installed on t3") != std::string::npos);
    CHECK(error.find("install fleet-builder " + protocol::this_agent_version().version + " on t3: ") != std::string::npos);
    CHECK(agents.count("t3 upload") == 0);
    CHECK(report.nodes.at("t1").result == "ok");
  }
  SECTION("every build node: the delegated targets fail naming the build nodes' missing agent") {
    agents.scripts["b1"].no_agent = true;
    agents.scripts["b2"].no_agent = true;
    auto [report, outcome] = run.run(agents);
    auto error = failed_with(report, "t1");
    INFO(error);
    CHECK(error.find("fleet-builder is not installed on b") != std::string::npos);
    CHECK(agents.count("b1 upload") == 0);
    CHECK(agents.count("b2 upload") == 0);
    CHECK(report.nodes.at("t3").result == "ok");
  }
}

TEST_CASE("a relay that fails falls back to another holder, then to the laptop") {
  FakeRun run(k_two_builders);
  test::FakeAgents agents;
  auto relayed_to = [](const RunReport& report, const std::string& to) {
    for (const auto& transfer : report.transfers) {
      if (transfer.to == to && !transfer.skipped) {
        return transfer;
      }
    }
    return TransferRecord{};
  };
  SECTION("another holder sends it") {
    agents.scripts["b1"].cannot_relay_to = {"t3"};
    auto [report, outcome] = run.run(agents);
    require_all_ok(report);
    CHECK(laptop_transfers(report) == std::vector<std::string>{"b1"});
    CHECK(relayed_to(report, "b2").from == "b1");
    CHECK(relayed_to(report, "t3").from == "b2");
    CHECK(report.uploaded_bytes() == test::FakeAgents::k_whole_bytes);
  }
  SECTION("no holder can: the laptop sends again, with a note") {
    agents.scripts["b1"].cannot_relay_to = {"b2", "t3"};
    auto [report, outcome] = run.run(agents);
    require_all_ok(report);
    auto to = laptop_transfers(report);
    std::sort(to.begin(), to.end());
    CHECK(to == std::vector<std::string>{"b1", "b2", "t3"});
    CHECK(relayed_to(report, "b2").note.find("no node could relay it (b1: Permission denied (publickey))") !=
          std::string::npos);
    CHECK(report.uploaded_bytes() == 3 * test::FakeAgents::k_whole_bytes);
  }
}

TEST_CASE("a self-building target whose connection drops during activation is reattached to") {
  FakeRun run(R"({"version": 1, "nodes": { "t3": { "build": "self" } }})");
  test::FakeAgents agents;
  agents.scripts["t3"].drop_during_activation = true;
  auto [report, outcome] = run.run(agents);
  require_all_ok(report);
  // The activation's own events seen before the drop: its start only.
  CHECK(agents.count("t3 attach act-t3 0") == 1);
  bool told = false;
  for (const auto& line : report.nodes.at("t3").log_tail) {
    told = told || line == "connection lost during activation; reattaching to act-t3";
  }
  CHECK(told);
}

TEST_CASE("the report counts the laptop's bytes, --update-inputs' transfer included") {
  FakeRun run(R"({"version": 1, "builders": { "b1": { "host": "b1", "systems": ["x86_64-linux"] } },
    "nodes": { "t1": { "lowPower": true } }})");
  test::FakeAgents agents;
  SECTION("without --update-inputs: one transfer") {
    auto [report, outcome] = run.run(agents);
    require_all_ok(report);
    CHECK(report.uploaded_bytes() == test::FakeAgents::k_whole_bytes);
    CHECK(report.transfers.size() == 1);
  }
  SECTION("with --update-inputs: the source for the update, then the repacked one as a delta") {
    tarball::PackedTarball repacked = source('b');
    auto inputs = run.inputs();
    std::string lock_seen;
    inputs.repack_with_update = [&](const InputUpdate& update) {
      lock_seen = update.flake_lock;
      return repacked;
    };
    auto [report, outcome] = run.run(agents, inputs);
    require_all_ok(report);
    CHECK(lock_seen.find("\"version\": 7") != std::string::npos);
    CHECK(outcome.flake_lock == lock_seen);
    CHECK(outcome.source_hash == repacked.content_hash);
    REQUIRE(report.transfers.size() == 2);
    CHECK(report.transfers[0].note == "for --update-inputs");
    CHECK(report.transfers[0].bytes == test::FakeAgents::k_whole_bytes);
    CHECK(report.transfers[1].base == run.packed.content_hash);
    CHECK(report.uploaded_bytes() == test::FakeAgents::k_whole_bytes + test::FakeAgents::k_delta_bytes);
    CHECK(agents.jobs("b1").front().source_hash == repacked.content_hash);
  }
  SECTION("a failed update fails every node and builds nothing") {
    agents.scripts["b1"].update_error = "nix flake update: cannot reach github.com";
    auto inputs = run.inputs();
    inputs.repack_with_update = [&](const InputUpdate&) -> tarball::PackedTarball { FAIL("repacked after a failed update"); return {}; };
    auto [report, outcome] = run.run(agents, inputs);
    CHECK(report.nodes.at("t1").result == "failed");
    CHECK(report.nodes.at("t1").error == "eval: --update-inputs: nix flake update: cannot reach github.com");
    CHECK(agents.jobs("b1").empty());
    CHECK(report.uploaded_bytes() == test::FakeAgents::k_whole_bytes);
  }
  SECTION("an unchanged source is skipped without contacting anything") {
    auto inputs = run.inputs();
    inputs.skip_reason = [](const std::string& hash) { return "source " + hash.substr(0, 4) + " unchanged"; };
    auto [report, outcome] = run.run(agents, inputs);
    CHECK(outcome.skipped == "source aaaa unchanged");
    CHECK(agents.calls().empty());
    CHECK(report.nodes.at("t1").result == "skipped");
  }
}

TEST_CASE("300 targets through three builders: one laptop upload, every node ok") {
  std::string nodes;
  for (int i = 0; i < 300; ++i) {
    nodes += std::string(i ? ", " : "") + "\"n" + std::to_string(i) + "\": { \"lowPower\": true }";
  }
  FakeRun run(R"({"version": 1, "builders": {
      "b1": { "host": "b1", "systems": ["x86_64-linux"] }, "b2": { "host": "b2", "systems": ["x86_64-linux"] },
      "b3": { "host": "b3", "systems": ["x86_64-linux"] } }, "nodes": {)" + nodes + "}}");
  test::FakeAgents agents;
  auto [report, outcome] = run.run(agents);
  REQUIRE(report.nodes.size() == 300);
  require_all_ok(report);
  CHECK(laptop_transfers(report).size() == 1);
  std::size_t targets = 0;
  for (const auto* builder : {"b1", "b2", "b3"}) {
    for (const auto& job : agents.jobs(builder)) {
      targets += job.targets.size();
    }
  }
  CHECK(targets == 300);
}
