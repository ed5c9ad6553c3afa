// SPDX-License-Identifier: MIT
#pragma once

#include "builder/phases/target_state.hpp"

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <semaphore>
#include <thread>
#include <utility>
#include <vector>

namespace fleet::builder {

// Takes each target through the stages after its evaluation (build, then delivery) on a thread
// of its own, from the moment it is started: no target waits for another's evaluation, build or
// copy. Each stage runs for at most its `at_once` targets at a time, and a target that has failed
// goes no further.
class TargetPipeline {
public:
  struct Stage {
    std::size_t at_once;
    std::function<void(TargetState&)> work;  // reports its own failures (target.failed, events)
  };

  explicit TargetPipeline(std::vector<Stage> stages);
  TargetPipeline(const TargetPipeline&) = delete;
  TargetPipeline& operator=(const TargetPipeline&) = delete;

  // Starts `target` through the stages; it must stay where it is, untouched by the caller, until
  // finish() has returned.
  void start(TargetState& target);

  // Waits for every started target, then rethrows the first exception a stage let out (its target
  // failed, the others went on).
  void finish();

private:
  static constexpr std::ptrdiff_t k_max_at_once = 1 << 16;
  struct Slots {
    Slots(std::function<void(TargetState&)> stage_work, std::ptrdiff_t at_once) : work(std::move(stage_work)), free(at_once) {}
    std::function<void(TargetState&)> work;
    std::counting_semaphore<k_max_at_once> free;
  };

  void run(TargetState& target);

  std::vector<std::unique_ptr<Slots>> m_stages;
  std::mutex m_mutex;
  std::exception_ptr m_failure;
  std::vector<std::jthread> m_threads;  // last: joined before the stages they use are gone
};

}  // namespace fleet::builder
