// SPDX-License-Identifier: MIT
#include "builder/phases/pipeline.hpp"

#include "uploader/base/error.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <vector>

using namespace fleet::builder;

namespace {

std::vector<TargetState> targets_named(std::initializer_list<const char*> names) {
  std::vector<TargetState> targets;
  for (const char* name : names) {
    TargetState state;
    state.target.node = name;
    targets.push_back(state);
  }
  return targets;
}

// Waits, up to a bound no healthy run comes near, until `ready` holds; false when it never did.
class Signal {
public:
  void notify(const std::function<void()>& change) {
    {
      std::lock_guard lock(m_mutex);
      change();
    }
    m_changed.notify_all();
  }
  bool wait(const std::function<bool()>& ready) {
    std::unique_lock lock(m_mutex);
    return m_changed.wait_for(lock, std::chrono::seconds{20}, ready);
  }

private:
  std::mutex m_mutex;
  std::condition_variable m_changed;
};

}  // namespace

TEST_CASE("a target is delivered while another is still being built") {
  auto targets = targets_named({"t1", "t2"});
  Signal signal;
  bool t1_delivered = false;
  bool t2_waited = false;
  std::vector<std::string> delivered;
  {
    TargetPipeline pipeline({
        {2,
         [&](TargetState& t) {
           if (t.target.node == "t2") {
             t2_waited = signal.wait([&] { return t1_delivered; });  // t2's build outlasts t1's delivery
           }
         }},
        {2, [&](TargetState& t) { signal.notify([&] { delivered.push_back(t.target.node); t1_delivered = t1_delivered || t.target.node == "t1"; }); }},
    });
    pipeline.start(targets[0]);
    pipeline.start(targets[1]);
    pipeline.finish();
  }
  CHECK(t2_waited);
  CHECK(delivered == std::vector<std::string>{"t1", "t2"});
}

TEST_CASE("each stage runs for at most its at_once targets at a time") {
  auto targets = targets_named({"t1", "t2", "t3", "t4", "t5", "t6"});
  Signal signal;
  int inside = 0;
  int most = 0;
  int never_met = 0;
  TargetPipeline pipeline({{2, [&](TargetState&) {
    signal.notify([&] { most = std::max(most, ++inside); });
    // The first two meet inside, which a limit of one would never allow.
    const bool met = signal.wait([&] { return most >= 2; });
    signal.notify([&] {
      --inside;
      never_met += met ? 0 : 1;
    });
  }}});
  for (auto& t : targets) {
    pipeline.start(t);
  }
  pipeline.finish();
  CHECK(never_met == 0);
  CHECK(most == 2);
}

TEST_CASE("a failed target goes no further; a stage's exception comes out of finish once every target is done") {
  auto targets = targets_named({"t1", "t2", "t3"});
  std::mutex mutex;
  std::set<std::string> delivered;
  TargetPipeline pipeline({
      {3,
       [&](TargetState& t) {
         if (t.target.node == "t1") {
           t.failed = true;  // as a failed build reports it
         } else if (t.target.node == "t2") {
           throw fleet::Error("the stage broke on t2");
         }
       }},
      {1, [&](TargetState& t) { std::lock_guard lock(mutex); delivered.insert(t.target.node); }},
  });
  for (auto& t : targets) {
    pipeline.start(t);
  }
  CHECK_THROWS_WITH(pipeline.finish(), "the stage broke on t2");
  CHECK(delivered == std::set<std::string>{"t3"});
  CHECK(targets[0].failed);
  CHECK(targets[1].failed);
  CHECK_FALSE(targets[2].failed);
}
