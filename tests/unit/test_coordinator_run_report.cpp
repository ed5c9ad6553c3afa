// SPDX-License-Identifier: MIT
#include "coordinator/report/run_report.hpp"
#include "uploader/base/error.hpp"

#include "support/golden.hpp"
#include "support/scoped_env.hpp"
#include "support/temp_dir.hpp"
#include "support/run_samples.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <regex>

#include <stdlib.h>
#include <sys/stat.h>

using namespace fleet;
using namespace fleet::coordinator;
namespace fs = std::filesystem;

namespace {

unsigned mode_of(const fs::path& path) {
  struct stat st{};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777U;
}

}  // namespace

TEST_CASE("a report serialises to the documented JSON shape") {
  RunReport report = test::sample_report();
  nlohmann::json json = to_json(report);
  test::check_golden("coordinator/report.json", json.dump(2) + "\n");
  CHECK(json["run"] == "20261121T230000Z-1a2b");
  CHECK(json["nodes"]["t1"]["builtOn"] == "b1");
  CHECK(json["nodes"]["t1"]["phases"][0]["phase"] == "upload");
  CHECK(json["nodes"]["t1"]["phases"][0]["seconds"] == 1.5);
  CHECK(json["exitCode"] == 1);
  CHECK(json["uploadedBytes"] == 1258291);
  CHECK(json["durationSeconds"] == 14.2);
}

TEST_CASE("reports read back as written, tolerating what a newer fleet adds") {
  RunReport report = test::sample_report();
  CHECK(report_from_json(to_json(report)) == report);

  nlohmann::json json = to_json(report);
  json["futureField"] = {1, 2};
  json["nodes"]["t1"]["cpuSeconds"] = 3;
  json["nodes"]["t1"]["result"] = "cancelled";
  RunReport read = report_from_json(json);
  CHECK(read.nodes.at("t1").result == "cancelled");

  SECTION("a node's evaluation figures") {
    RunReport evaluated = report;
    evaluated.nodes.at("t1").evaluation = EvalUsage{4.2504, 812, 2};
    nlohmann::json written = to_json(evaluated);
    CHECK(written["nodes"]["t1"]["evaluation"] == nlohmann::json{{"cpuSeconds", 4.25}, {"peakMiB", 812}, {"targets", 2}});
    CHECK_FALSE(written["nodes"]["t2"].contains("evaluation"));
    CHECK(report_from_json(written).nodes.at("t1").evaluation == EvalUsage{4.25, 812, 2});
    written["nodes"]["t1"]["evaluation"]["peakMiB"] = "a lot";
    CHECK_THROWS_WITH(report_from_json(written), Catch::Matchers::Contains("nodes.t1.evaluation.peakMiB"));
  }

  SECTION("a minimal report") {
    RunReport minimal = report_from_json({{"run", "x"}, {"nodes", {{"t1", {{"result", "ok"}}}}}});
    CHECK(minimal.nodes.at("t1").result == "ok");
    CHECK(minimal.exit_code() == 0);
  }
}

TEST_CASE("reports of the wrong shape are refused naming the field") {
  nlohmann::json json = to_json(test::sample_report());
  SECTION("not an object") { CHECK_THROWS_WITH(report_from_json(nlohmann::json::array()), Catch::Contains("top level")); }
  SECTION("missing run") {
    json.erase("run");
    CHECK_THROWS_WITH(report_from_json(json), Catch::Contains("'run' is missing"));
  }
  SECTION("a phase's seconds") {
    json["nodes"]["t1"]["phases"][1]["seconds"] = "fast";
    CHECK_THROWS_WITH(report_from_json(json), Catch::Contains("'nodes.t1.phases[1].seconds' should be a number"));
  }
  SECTION("negative bytes") {
    json["transfers"][0]["bytes"] = -5;
    CHECK_THROWS_WITH(report_from_json(json), Catch::Contains("'transfers[0].bytes'"));
  }
  SECTION("log tail") {
    json["nodes"]["t3"]["logTail"] = {1};
    CHECK_THROWS_AS(report_from_json(json), Error);
  }
}

TEST_CASE("run ids sort by start time and differ within a second") {
  std::string id = new_run_id(test::k_sample_start);
  CHECK(std::regex_match(id, std::regex("20261121T230000Z-[0-9a-f]{4}")));
  CHECK(new_run_id(test::k_sample_start + 1) > new_run_id(test::k_sample_start));
  bool differ = false;
  for (int i = 0; i < 8 && !differ; ++i) {
    differ = new_run_id(test::k_sample_start) != id;
  }
  CHECK(differ);
}

TEST_CASE("reports live under XDG_STATE_HOME, else under HOME") {
  {
    test::ScopedEnv state("XDG_STATE_HOME", "/var/lib/x");
    CHECK(runs_dir() == fs::path("/var/lib/x/fleet/runs"));
  }
  test::ScopedEnv home("HOME", "/home/alice");
  {
    test::ScopedEnv state("XDG_STATE_HOME", "relative/ignored");
    CHECK(runs_dir() == fs::path("/home/alice/.local/state/fleet/runs"));
  }
  test::ScopedEnv state("XDG_STATE_HOME", nullptr);
  CHECK(runs_dir() == fs::path("/home/alice/.local/state/fleet/runs"));
  test::ScopedEnv no_home("HOME", nullptr);
  CHECK_THROWS_WITH(runs_dir(), Catch::Contains("HOME"));
}

TEST_CASE("save_report writes the report atomically into private directories") {
  test::TempDir scratch;
  test::ScopedEnv state("XDG_STATE_HOME", (scratch.path() / "state").c_str());
  RunReport report = test::sample_report();
  fs::path extra = scratch.path() / "nightly.json";

  fs::path written = save_report(report, extra);
  CHECK(written == scratch.path() / "state/fleet/runs/20261121T230000Z-1a2b.json");
  CHECK(mode_of(scratch.path() / "state") == 0700);
  CHECK(mode_of(scratch.path() / "state/fleet/runs") == 0700);
  CHECK(mode_of(written) == 0600);
  CHECK(mode_of(extra) == 0644);
  for (const auto& path : {written, extra}) {
    std::ifstream in(path);
    CHECK(report_from_json(nlohmann::json::parse(in)) == report);
  }

  SECTION("saving again replaces the file and leaves no temporary files") {
    report.nodes.at("t5").result = "failed";
    save_report(report);
    std::ifstream in(written);
    CHECK(report_from_json(nlohmann::json::parse(in)).nodes.at("t5").result == "failed");
    int files = 0;
    for (const auto& entry : fs::directory_iterator(written.parent_path())) {
      CHECK(entry.path().filename().string().find(".tmp-") == std::string::npos);
      ++files;
    }
    CHECK(files == 1);
  }
  SECTION("an extra path in a missing directory is an error naming it") {
    CHECK_THROWS_WITH(save_report(report, scratch.path() / "no/such/dir/r.json"), Catch::Contains("no/such/dir/r.json"));
  }
  SECTION("a run id that is not a plain file name is refused") {
    report.run_id = "../../etc/x";
    CHECK_THROWS_WITH(save_report(report), Catch::Contains("cannot be a report file name"));
  }
}

TEST_CASE("the run summary lists each node, then the failures, then totals") {
  test::check_golden("coordinator/summary.txt",
                     format_summary(test::sample_report(), "/home/alice/.local/state/fleet/runs/x.json"));
}

TEST_CASE("sizes and durations read like a person would write them") {
  CHECK(format_bytes(0) == "0 B");
  CHECK(format_bytes(1023) == "1023 B");
  CHECK(format_bytes(1536) == "1.5 KiB");
  CHECK(format_bytes(1258291) == "1.2 MiB");
  CHECK(format_bytes(5ULL << 40) == "5120.0 GiB");
  CHECK(format_seconds(0.04) == "0.0s");
  CHECK(format_seconds(12.34) == "12.3s");
  CHECK(format_seconds(125) == "2m05s");
  CHECK(format_seconds(3720) == "1h02m");
  CHECK(format_seconds(-3) == "0.0s");
}
