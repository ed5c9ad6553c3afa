// SPDX-License-Identifier: MIT
// Test-only: one made-up run of five nodes with fixed timestamps, shared by the report and
// view tests so that their golden files describe the same run.
#pragma once

#include "coordinator/report/run_recorder.hpp"
#include "coordinator/run/node_state.hpp"
#include "uploader/protocol/event.hpp"

#include <string>
#include <vector>

namespace fleet::test {

inline constexpr double k_sample_start = 1795302000;  // 2026-11-21T23:00:00Z

inline std::vector<std::string> sample_nodes() { return {"t1", "t2", "t3", "pi4", "t5"}; }

// A run's node tracker with a recorder subscribed, every node served by location 0 and done once
// activated: events go in as the orchestrator would feed them.
struct TrackedRun {
  coordinator::RunRecorder recorder;
  coordinator::NodeTracker tracker;

  TrackedRun(std::string run_id, const std::vector<std::string>& nodes, double started)
      : recorder(std::move(run_id), nodes, started), tracker(nodes) {
    tracker.subscribe(recorder);
    for (const auto& node : nodes) {
      tracker.assign(node, 0, protocol::Phase::activate);
    }
  }
  void feed(const protocol::Event& event) { tracker.on_event(0, event); }
  void job_ended(double now) { tracker.job_ended(0, now); }
};

// t1 is built on b1 and switched; t2 builds itself; t3's build fails on b1; pi4's health check
// fails and it is rolled back; t5 never starts.
inline std::vector<protocol::Event> sample_events() {
  using protocol::Phase;
  using protocol::Status;
  const double t = k_sample_start;
  const std::string store = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-nixos-system-";
  return {
      {t + 1, "t1", Phase::upload, Status::start, "", {}},
      {t + 2.5, "t1", Phase::upload, Status::ok, "", {}},
      {t + 3, "t1", Phase::build, Status::start, "", {}},
      {t + 3, "t2", Phase::build, Status::start, "building on itself", {}},
      {t + 3, "t3", Phase::build, Status::start, "", {}},
      {t + 4, "t1", Phase::build, Status::progress, "building '/nix/store/abc-etc.drv'...", {}},
      {t + 5, "t3", Phase::build, Status::progress, "error: attribute 'wifi' missing\n       at /src/t3.nix:4:3", {}},
      {t + 5.25, "t3", Phase::build, Status::fail, "nix build exited with status 1", {}},
      {t + 6, "t1", Phase::build, Status::ok, "", {{"storePath", store + "t1"}}},
      {t + 6, "t1", Phase::activate, Status::start, "switch", {}},
      {t + 7, "t1", Phase::activate, Status::ok, "", {}},
      {t + 8, "t2", Phase::build, Status::ok, "", {{"storePath", store + "t2"}}},
      {t + 8, "t2", Phase::activate, Status::start, "", {}},
      {t + 9, "t2", Phase::activate, Status::ok, "", {}},
      {t + 9, "pi4", Phase::copy, Status::start, "", {}},
      {t + 9.5, "intruder", Phase::build, Status::fail, "not part of this run", {}},
      {t + 10, "pi4", Phase::copy, Status::ok, "", {{"storePath", store + "pi4"}}},
      {t + 10, "pi4", Phase::activate, Status::start, "", {}},
      {t + 11, "pi4", Phase::activate, Status::ok, "", {}},
      {t + 11, "pi4", Phase::check, Status::start, "", {}},
      {t + 12, "pi4", Phase::check, Status::progress, "tcp 22: connection refused", {}},
      {t + 13, "pi4", Phase::check, Status::fail, "health check 'tcp 22' failed after 2s", {}},
      {t + 13, "pi4", Phase::rollback, Status::start, "", {}},
      {t + 14, "pi4", Phase::rollback, Status::ok, "", {}},
  };
}

// The report a coordinator would write for the sample run.
inline coordinator::RunReport sample_report() {
  TrackedRun run("20261121T230000Z-1a2b", sample_nodes(), k_sample_start);
  auto& recorder = run.recorder;
  recorder.set_built_on("t1", "b1");
  recorder.set_built_on("t2", "self");
  recorder.set_built_on("t3", "b1");
  recorder.set_built_on("pi4", "b1");
  recorder.add_transfer({"laptop", "b1", 1258291, false});
  recorder.add_transfer({"b1", "t2", 18204, false, std::string(64, 'a'), ""});
  for (const auto& event : sample_events()) {
    run.feed(event);
  }
  run.job_ended(k_sample_start + 14.1);
  return recorder.finish(std::string(64, 'e'), "switch", "/home/alice/fleet/fleet.json", k_sample_start + 14.2);
}

}  // namespace fleet::test
