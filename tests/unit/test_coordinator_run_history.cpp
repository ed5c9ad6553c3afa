// SPDX-License-Identifier: MIT
#include "coordinator/report/node_logs.hpp"
#include "coordinator/report/run_history.hpp"
#include "coordinator/run/flake_inputs.hpp"
#include "support/scoped_env.hpp"
#include "support/temp_dir.hpp"
#include "support/tree.hpp"
#include "uploader/base/error.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace fleet;
using namespace fleet::coordinator;

namespace {

RunReport make_report(const std::string& id, double started, const std::string& hash, const std::string& t1_result) {
  RunReport report;
  report.run_id = id;
  report.source_hash = hash;
  report.action = "switch";
  report.config_file = "/srv/fleet/fleet.json";
  report.started = started;
  report.finished = started + 65;
  report.nodes["t1"].result = t1_result;
  report.nodes["t1"].built_on = "b1";
  report.nodes["t1"].phases = {{"build", 12.5, "ok"}, {"activate", 1.5, t1_result == "ok" ? "ok" : "fail"}};
  report.nodes["t2"].result = "ok";
  if (t1_result != "ok") {
    report.nodes["t1"].error = "activate: switch-to-configuration switch timed out after 5 s";
    report.nodes["t1"].log_tail = {"waiting 1000000 s first"};
  } else {
    report.nodes["t1"].previous_path = "/nix/store/aaa-nixos-system-t1";
    report.nodes["t1"].closure_diff = "openssl: 3.0.1 → 3.0.2\n";
  }
  return report;
}

}  // namespace

TEST_CASE("the history lists saved runs oldest first and finds the last success") {
  test::TempDir dir;
  test::ScopedEnv state("XDG_STATE_HOME", dir.path().c_str());
  save_report(make_report("20261121T230000Z-0001", 1000, std::string(64, 'a'), "ok"));
  save_report(make_report("20261122T230000Z-0002", 2000, std::string(64, 'b'), "failed"));
  save_report(make_report("20261123T230000Z-0003", 3000, std::string(64, 'c'), "ok"));
  std::ofstream(runs_dir() / "garbage.json") << "{not json";

  std::vector<std::string> problems;
  auto history = load_history(runs_dir(), &problems);
  REQUIRE(history.size() == 3);
  CHECK(problems.size() == 1);
  CHECK(history.front().report.run_id == "20261121T230000Z-0001");

  auto like = make_report("new", 4000, "", "ok");
  auto last = last_successful_run(history, like);
  REQUIRE(last);
  CHECK(last->run_id == "20261123T230000Z-0003");
  like.action = "boot";
  CHECK_FALSE(last_successful_run(history, like));
  like = make_report("new", 4000, "", "ok");
  like.nodes.erase("t2");
  CHECK_FALSE(last_successful_run(history, like));

  auto list = format_run_list(history);
  CHECK(list.find("20261122T230000Z-0002") != std::string::npos);
  CHECK(list.find("bbbbbbbbbbbb") != std::string::npos);
  auto json = run_list_json(history);
  CHECK(json[1]["failed"] == 1);
  CHECK(json[1]["exitCode"] == 1);
  CHECK(json[2]["ok"] == 2);
  // The same ISO 8601 form as the report's own startedAt.
  CHECK(json[0]["startedAt"] == to_json(history[0].report)["startedAt"]);
  CHECK(json[0]["startedAt"].get<std::string>().back() == 'Z');

  CHECK(find_run(history, "").report.run_id == "20261123T230000Z-0003");
  CHECK(find_run(history, "20261122").report.run_id == "20261122T230000Z-0002");
  CHECK_THROWS_WITH(find_run(history, "2026112"), Catch::Contains("matches 3 runs"));
  CHECK_THROWS_AS(find_run(history, "1999"), ConfigError);
}

TEST_CASE("a skipped run exits 0, round-trips, and is not a success to compare against") {
  auto report = make_report("20261124T230000Z-0004", 5000, std::string(64, 'c'), "ok");
  for (auto& [name, outcome] : report.nodes) {
    outcome = NodeOutcome{};
  }
  report.skipped_reason = "unchanged since run 20261123T230000Z-0003";
  report.flake_lock = "{\"nodes\":{}}";
  CHECK(report.exit_code() == 0);
  auto back = report_from_json(to_json(report));
  CHECK(back == report);
  std::vector<HistoryEntry> history{{"x.json", report}};
  CHECK_FALSE(last_successful_run(history, make_report("new", 6000, "", "ok")));
}

TEST_CASE("pruning keeps the newest runs, the current one and the last success") {
  test::TempDir dir;
  test::ScopedEnv state("XDG_STATE_HOME", dir.path().c_str());
  double day = 86400;
  save_report(make_report("r1", 1 * day, "h", "ok"));
  save_report(make_report("r2", 2 * day, "h", "failed"));
  save_report(make_report("r3", 3 * day, "h", "failed"));
  save_report(make_report("r4", 4 * day, "h", "failed"));
  std::filesystem::create_directories(run_logs_dir(runs_dir(), "r2"));
  std::ofstream(run_logs_dir(runs_dir(), "r2") / "t1.log") << "x\n";

  auto removed = prune_history(runs_dir(), 2, 365, 5 * day, "r4");
  CHECK(removed == std::vector<std::string>{"r2"});
  CHECK_FALSE(std::filesystem::exists(run_logs_dir(runs_dir(), "r2")));
  CHECK(std::filesystem::exists(runs_dir() / "r1.json"));  // the newest success

  removed = prune_history(runs_dir(), 100, 1, 5 * day, "r4");
  CHECK(removed == std::vector<std::string>{"r3"});
}

TEST_CASE("a run's details show phases, changes, and for failures the error and the full log") {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "logs");
  std::ofstream(dir / "logs/t1.log") << "…\n";
  auto failed = format_run_details(make_report("r2", 2000, std::string(64, 'b'), "failed"), dir / "logs");
  CHECK(failed.find("t1  failed  built on b1") != std::string::npos);
  CHECK(failed.find("timed out after 5 s") != std::string::npos);
  CHECK(failed.find("waiting 1000000 s first") != std::string::npos);
  CHECK(failed.find((dir / "logs/t1.log").string()) != std::string::npos);
  CHECK(failed.find("12.5s") != std::string::npos);
  auto ok = format_run_details(make_report("r1", 1000, std::string(64, 'a'), "ok"), dir / "logs");
  CHECK(ok.find("openssl: 3.0.1 → 3.0.2") != std::string::npos);
  CHECK(ok.find("error") == std::string::npos);
}

TEST_CASE("node logs keep every event line with its time") {
  test::TempDir dir;
  NodeLogs logs(dir / "state/runs/run");
  logs.on_event({1700000000.25, "t1", protocol::Phase::build, protocol::Status::progress, "line one\nline \x1b[31mtwo", {}});
  logs.on_event({1700000001.5, "t1", protocol::Phase::activate, protocol::Status::ok, "switch done",
                 {{"closureDiff", "openssl: 3.0.1 → 3.0.2\n"}}});
  logs.on_event({1700000002, "../evil", protocol::Phase::build, protocol::Status::fail, "x", {}});
  CHECK(logs.problem().empty());
  auto text = test::read_file(dir / "state/runs/run/t1.log");
  CHECK(text.find("2023-11-14T22:13:20.250Z build progress line one\n") != std::string::npos);
  CHECK(text.find("build progress line ?[31mtwo\n") != std::string::npos);
  CHECK(text.find("activate ok closure: openssl: 3.0.1 → 3.0.2\n") != std::string::npos);
  CHECK(std::filesystem::exists(dir / "state/runs/run/_other.log"));
  CHECK_FALSE(std::filesystem::exists(dir / "evil.log"));
}

TEST_CASE("the source is repacked with an updated flake.lock") {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "src/sub");
  std::ofstream(dir / "src/flake.nix") << "{ outputs = { self }: { }; }\n";
  std::ofstream(dir / "src/flake.lock") << "old\n";
  std::ofstream(dir / "src/sub/x") << "x\n";
  std::filesystem::create_directories(dir / "src/result");
  auto sources = tarball::collect_sources(dir / "src", {"result"});
  auto original = tarball::pack(sources);
  auto updated = pack_with_file(sources, "flake.lock", "new\n", {});
  CHECK(updated.content_hash != original.content_hash);
  CHECK(test::read_file(dir / "src/flake.lock") == "old\n");  // the user's tree is untouched

  std::ofstream(dir / "src/flake.lock") << "new\n";
  auto expected = tarball::pack(tarball::collect_sources(dir / "src", {"result"}));
  CHECK(updated.content_hash == expected.content_hash);
}
