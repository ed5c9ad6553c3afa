// SPDX-License-Identifier: MIT
#include "coordinator/report/run_recorder.hpp"
#include "uploader/base/error.hpp"

#include "support/run_samples.hpp"

#include <catch2/catch.hpp>

using namespace fleet;
using namespace fleet::coordinator;
using protocol::Event;
using protocol::Phase;
using protocol::Status;

namespace {

Event event(double ts, const std::string& node, Phase phase, Status status, const std::string& msg = "") {
  return {ts, node, phase, status, msg, nlohmann::json::object()};
}

}  // namespace

TEST_CASE("phase timings are the difference of the start and end events") {
  test::TrackedRun run("r", {"t1"}, 100);
  auto& recorder = run.recorder;
  run.feed(event(100, "t1", Phase::build, Status::start));
  run.feed(event(103.5, "t1", Phase::build, Status::ok));
  run.feed(event(104, "t1", Phase::activate, Status::start));
  run.feed(event(104.25, "t1", Phase::activate, Status::ok));
  const auto& outcome = recorder.node("t1");
  REQUIRE(outcome.phases.size() == 2);
  CHECK(outcome.phases[0] == PhaseTiming{"build", 3.5, "ok"});
  CHECK(outcome.phases[1] == PhaseTiming{"activate", 0.25, "ok"});
  CHECK(outcome.seconds() == Approx(3.75));

  SECTION("events alone never make a node ok; the end of its job does") {
    CHECK(outcome.result == "skipped");
    run.job_ended(105);
    CHECK(recorder.node("t1").result == "ok");
  }
  SECTION("an end without a start, or a clock going backwards, takes no time") {
    run.feed(event(200, "t1", Phase::check, Status::ok));
    run.feed(event(300, "t1", Phase::copy, Status::start));
    run.feed(event(250, "t1", Phase::copy, Status::ok));
    CHECK(recorder.node("t1").phases[2] == PhaseTiming{"check", 0, "ok"});
    CHECK(recorder.node("t1").phases[3] == PhaseTiming{"copy", 0, "ok"});
  }
}

TEST_CASE("failures set the result and a phase-qualified error") {
  test::TrackedRun run("r", {"t1", "t2"}, 0);
  auto& recorder = run.recorder;
  run.feed(event(1, "t1", Phase::build, Status::start));
  run.feed(event(2, "t1", Phase::build, Status::fail, "nix build exited with status 1"));
  CHECK(recorder.node("t1").result == "failed");
  CHECK(recorder.node("t1").error == "build: nix build exited with status 1");
  CHECK(recorder.node("t1").phases.back() == PhaseTiming{"build", 1, "fail"});

  SECTION("later failures follow the first one") {
    run.feed(event(3, "t1", Phase::copy, Status::fail, "builder b1 is unreachable"));
    CHECK(recorder.node("t1").error == "build: nix build exited with status 1\ncopy: builder b1 is unreachable");
  }
  SECTION("coordinator-side failures") {
    run.feed(event(3, "t2", Phase::upload, Status::fail, "cannot connect to b1.example:22: Connection refused"));
    CHECK(recorder.node("t2").result == "failed");
    CHECK(recorder.node("t2").error == "upload: cannot connect to b1.example:22: Connection refused");
  }
  SECTION("a failed node stays failed when its job ends") {
    run.job_ended(5);
    CHECK(recorder.node("t1").result == "failed");
    CHECK(recorder.node("t2").result == "skipped");
  }
}

TEST_CASE("a successful rollback after a failed check is recorded as rolled-back") {
  test::TrackedRun run("r", {"t1"}, 0);
  auto& recorder = run.recorder;
  run.feed(event(1, "t1", Phase::check, Status::start));
  run.feed(event(3, "t1", Phase::check, Status::fail, "tcp 22 refused"));
  run.feed(event(3, "t1", Phase::rollback, Status::start));
  SECTION("rollback ok") {
    run.feed(event(5, "t1", Phase::rollback, Status::ok));
    CHECK(recorder.node("t1").result == "rolled-back");
    CHECK(recorder.node("t1").error == "check: tcp 22 refused");
    auto report = recorder.finish("h", "switch", "f", 6);
    CHECK(report.exit_code() == 1);
  }
  SECTION("rollback failed too") {
    run.feed(event(5, "t1", Phase::rollback, Status::fail, "no previous generation"));
    CHECK(recorder.node("t1").result == "failed");
    CHECK(recorder.node("t1").error == "check: tcp 22 refused\nrollback: no previous generation");
  }
}

TEST_CASE("progress messages fill a bounded log tail") {
  test::TrackedRun run("r", {"t1"}, 0);
  auto& recorder = run.recorder;
  for (int i = 0; i < 40; ++i) {
    run.feed(event(i, "t1", Phase::build, Status::progress, "line " + std::to_string(i)));
  }
  const auto& tail = recorder.node("t1").log_tail;
  REQUIRE(tail.size() == k_log_tail_lines);
  CHECK(tail.front() == "line 10");
  CHECK(tail.back() == "line 39");

  SECTION("multi-line messages count line by line") {
    run.feed(event(50, "t1", Phase::build, Status::progress, "a\nb\n"));
    CHECK(recorder.node("t1").log_tail.back() == "b");
    CHECK(recorder.node("t1").log_tail[k_log_tail_lines - 2] == "a");
  }
  SECTION("huge lines are cut without splitting a UTF-8 character") {
    std::string line(k_max_log_line - 1, 'x');
    line += "é and more";
    run.feed(event(50, "t1", Phase::build, Status::progress, line));
    const std::string& kept = recorder.node("t1").log_tail.back();
    CHECK(kept == std::string(k_max_log_line - 1, 'x') + "…");
  }
}

TEST_CASE("a long error keeps what failed and how it ended") {
  test::TrackedRun run("r", {"t1"}, 0);
  std::string log = "building /nix/store/x.drv failed:\nlast log lines:\n";
  for (int i = 0; i < 500; ++i) {
    log += "filler line " + std::to_string(i) + "\n";
  }
  log += "t1: the reason, at the end";
  run.feed(event(1, "t1", Phase::build, Status::fail, log));
  const std::string& error = run.recorder.node("t1").error;
  CHECK(error.size() <= k_max_error + 16);
  CHECK_THAT(error, Catch::Matchers::StartsWith("build: building /nix/store/x.drv failed:\n…\nfiller line "));
  CHECK_THAT(error, Catch::Matchers::EndsWith("filler line 499\nt1: the reason, at the end"));
  CHECK(error.find("filler line 0\n") == std::string::npos);

  SECTION("a short one is kept whole") {
    run.feed(event(2, "t1", Phase::activate, Status::fail, "first\nsecond"));
    CHECK_THAT(run.recorder.node("t1").error, Catch::Matchers::EndsWith("\nactivate: first\nsecond"));
  }
}

TEST_CASE("the store path comes from an event's extra field") {
  test::TrackedRun run("r", {"t1"}, 0);
  auto& recorder = run.recorder;
  Event built = event(1, "t1", Phase::build, Status::ok);
  built.extra["storePath"] = "/nix/store/abc-nixos-system-t1";
  run.feed(built);
  CHECK(recorder.node("t1").store_path == "/nix/store/abc-nixos-system-t1");

  Event odd = event(2, "t1", Phase::build, Status::ok);
  odd.extra["storePath"] = 42;
  run.feed(odd);
  CHECK(recorder.node("t1").store_path == "/nix/store/abc-nixos-system-t1");
}

TEST_CASE("what evaluating a toplevel cost comes from the eval event's extra fields") {
  test::TrackedRun run("r", {"t1", "t2"}, 0);
  Event evaluated = event(1, "t1", Phase::eval, Status::ok);
  evaluated.extra = {{"drvPath", "/nix/store/abc.drv"}, {"evalCpuSeconds", 4.25}, {"evalPeakMiB", 812}, {"evalTargets", 2}};
  run.feed(evaluated);
  REQUIRE(run.recorder.node("t1").evaluation.has_value());
  CHECK(*run.recorder.node("t1").evaluation == EvalUsage{4.25, 812, 2});

  SECTION("figures that are missing, of the wrong type or implausible are not recorded") {
    for (const auto& extra : {nlohmann::json{{"evalCpuSeconds", 1.0}, {"evalPeakMiB", 10}},
                              nlohmann::json{{"evalCpuSeconds", "1"}, {"evalPeakMiB", 10}, {"evalTargets", 1}},
                              nlohmann::json{{"evalCpuSeconds", -1.0}, {"evalPeakMiB", 10}, {"evalTargets", 1}},
                              nlohmann::json{{"evalCpuSeconds", 1e12}, {"evalPeakMiB", 10}, {"evalTargets", 1}},
                              nlohmann::json{{"evalCpuSeconds", 1.0}, {"evalPeakMiB", -10}, {"evalTargets", 1}},
                              nlohmann::json{{"evalCpuSeconds", 1.0}, {"evalPeakMiB", 10}, {"evalTargets", 0}}}) {
      Event odd = event(2, "t2", Phase::eval, Status::ok);
      odd.extra = extra;
      run.feed(odd);
      CHECK_FALSE(run.recorder.node("t2").evaluation.has_value());
    }
  }
  SECTION("only an eval event carries them") {
    Event built = event(2, "t2", Phase::build, Status::ok);
    built.extra = evaluated.extra;
    run.feed(built);
    CHECK_FALSE(run.recorder.node("t2").evaluation.has_value());
  }
}

TEST_CASE("transitions for nodes outside the run are ignored and counted") {
  RunRecorder recorder("r", {"t1"}, 0);
  const std::string mallory = "mallory", nobody, t1 = "t1";
  Event stray = event(1, mallory, Phase::build, Status::fail, "x");
  recorder.on_transition({mallory, NodeState::failed, &stray});
  recorder.on_transition({nobody, NodeState::working});
  Event start = event(1, t1, Phase::build, Status::start);
  recorder.on_transition({t1, NodeState::working, &start});
  CHECK(recorder.ignored_events() == 2);
  auto report = recorder.finish("h", "switch", "f", 2);
  CHECK(report.nodes.size() == 1);
  CHECK(report.nodes.count("mallory") == 0);

  SECTION("while the coordinator naming an unknown node is a bug") {
    CHECK_THROWS_AS(recorder.node("mallory"), Error);
    CHECK_THROWS_AS(recorder.set_built_on("mallory", "b1"), Error);
  }
}

TEST_CASE("finishing closes phases left open and gathers the run") {
  test::TrackedRun run("r", {"t1", "t2"}, 10);
  auto& recorder = run.recorder;
  run.feed(event(11, "t1", Phase::build, Status::start));
  recorder.set_built_on("t1", "b1");
  recorder.add_transfer({"laptop", "b1", 1000, false});
  recorder.add_transfer({"laptop", "b2", 24, false});
  recorder.add_transfer({"laptop", "b3", 0, true});
  RunReport report = recorder.finish("hash", "boot", "/f/fleet.json", 20);
  CHECK(report.run_id == "r");
  CHECK(report.started == 10);
  CHECK(report.finished == 20);
  CHECK(report.action == "boot");
  CHECK(report.nodes.at("t1").phases == std::vector<PhaseTiming>{{"build", 9, "fail"}});
  CHECK(report.nodes.at("t1").built_on == "b1");
  CHECK(report.nodes.at("t2").result == "skipped");
  CHECK(report.uploaded_bytes() == 1024);
  CHECK(report.exit_code() == 1);
}

TEST_CASE("the sample run is recorded as expected") {
  RunReport report = test::sample_report();
  CHECK(report.nodes.at("t1").result == "ok");
  CHECK(report.nodes.at("t2").result == "ok");
  CHECK(report.nodes.at("t3").result == "failed");
  CHECK(report.nodes.at("pi4").result == "rolled-back");
  CHECK(report.nodes.at("t5").result == "skipped");
  CHECK(report.nodes.at("t3").log_tail ==
        std::vector<std::string>{"error: attribute 'wifi' missing", "       at /src/t3.nix:4:3"});
  CHECK(report.nodes.count("intruder") == 0);
}
