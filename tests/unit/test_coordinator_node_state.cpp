// SPDX-License-Identifier: MIT
#include "coordinator/run/node_state.hpp"
#include "uploader/base/error.hpp"

#include <catch2/catch.hpp>

#include <vector>

using namespace fleet;
using namespace fleet::coordinator;
using protocol::Phase;
using protocol::Status;

namespace {

// Keeps every transition it hears.
struct Log final : NodeObserver {
  struct Seen {
    std::string node;
    NodeState state;
    bool had_event;
    bool moved;
  };
  std::vector<Seen> seen;
  void on_transition(const NodeTransition& t) override {
    seen.push_back({t.node, t.state, t.event != nullptr, t.move != nullptr});
  }
};

protocol::Event event(const std::string& node, Phase phase, Status status) {
  return {1, node, phase, status, "", nlohmann::json::object()};
}

}  // namespace

TEST_CASE("a node is ok only when its job ends after its final phase succeeded") {
  NodeTracker tracker({"t1", "t2"});
  Log log;
  tracker.subscribe(log);
  tracker.assign("t1", 0, Phase::activate);
  tracker.assign("t2", 0, Phase::copy);
  CHECK(tracker.state("t1") == NodeState::waiting);
  CHECK(tracker.on_event(0, event("t1", Phase::build, Status::start)));
  CHECK(tracker.state("t1") == NodeState::working);
  tracker.on_event(0, event("t1", Phase::build, Status::ok));
  CHECK(tracker.state("t1") == NodeState::working);
  tracker.on_event(0, event("t1", Phase::activate, Status::ok));
  CHECK(tracker.state("t1") == NodeState::completed);
  tracker.on_event(0, event("t2", Phase::copy, Status::ok));  // a `build` action ends at the copy
  CHECK(tracker.state("t2") == NodeState::completed);
  CHECK(tracker.open_at("t1", 0) == false);
  CHECK(tracker.job_ended(0, 2).empty());
  CHECK(tracker.state("t1") == NodeState::ok);
  CHECK(tracker.state("t2") == NodeState::ok);
  REQUIRE(log.seen.size() == 6);
  CHECK(log.seen.back().state == NodeState::ok);
  CHECK_FALSE(log.seen.back().had_event);
  CHECK(result_of(NodeState::ok) == protocol::NodeResult::ok);
}

TEST_CASE("failures stick, and a rollback after one is a rolled-back node") {
  NodeTracker tracker({"t1"});
  tracker.assign("t1", 0, Phase::activate);
  tracker.on_event(0, event("t1", Phase::activate, Status::ok));
  tracker.on_event(0, event("t1", Phase::check, Status::fail));
  CHECK(tracker.state("t1") == NodeState::failed);
  tracker.on_event(0, event("t1", Phase::rollback, Status::start));
  CHECK(tracker.state("t1") == NodeState::failed);
  tracker.on_event(0, event("t1", Phase::rollback, Status::ok));
  CHECK(tracker.state("t1") == NodeState::rolled_back);
  tracker.on_event(0, event("t1", Phase::activate, Status::fail));
  CHECK(tracker.state("t1") == NodeState::rolled_back);
  tracker.job_ended(0, 3);
  CHECK(tracker.state("t1") == NodeState::rolled_back);
  CHECK(result_of(NodeState::rolled_back) == protocol::NodeResult::rolled_back);
  CHECK(result_of(NodeState::working) == protocol::NodeResult::failed);
  CHECK(result_of(NodeState::waiting) == protocol::NodeResult::skipped);
}

TEST_CASE("a moved node hears only its new location, and unfinished nodes are handed back") {
  NodeTracker tracker({"t1", "t2"});
  Log log;
  tracker.subscribe(log);
  tracker.assign("t1", 0, Phase::activate);
  tracker.assign("t2", 0, Phase::activate);
  tracker.on_event(0, event("t1", Phase::build, Status::start));
  tracker.on_event(0, event("t2", Phase::build, Status::start));
  CHECK(tracker.job_ended(0, 2) == std::vector<std::string>{"t1", "t2"});
  tracker.move("t2", 1, Phase::activate, {"b1", "b2", "b1 died"}, 3);
  CHECK(tracker.state("t2") == NodeState::waiting);
  CHECK(log.seen.back().moved);
  CHECK_FALSE(tracker.on_event(0, event("t2", Phase::build, Status::fail)));
  CHECK(tracker.state("t2") == NodeState::waiting);
  CHECK(tracker.open_at("t2", 1));
  CHECK_FALSE(tracker.open_at("t2", 0));
  CHECK(tracker.on_event(1, event("t2", Phase::activate, Status::ok)));
  CHECK(tracker.job_ended(1, 4).empty());
  CHECK(tracker.state("t2") == NodeState::ok);
  SECTION("events about nodes outside the run change nothing") {
    CHECK_FALSE(tracker.on_event(0, event("mallory", Phase::build, Status::fail)));
    CHECK_THROWS_AS(tracker.state("mallory"), InternalError);
  }
}
