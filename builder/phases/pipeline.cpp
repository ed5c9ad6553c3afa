// SPDX-License-Identifier: MIT
#include "builder/phases/pipeline.hpp"

#include <algorithm>

namespace fleet::builder {

TargetPipeline::TargetPipeline(std::vector<Stage> stages) {
  for (auto& stage : stages) {
    const auto at_once = std::clamp<std::ptrdiff_t>(static_cast<std::ptrdiff_t>(stage.at_once), 1, k_max_at_once);
    m_stages.push_back(std::make_unique<Slots>(std::move(stage.work), at_once));
  }
}

void TargetPipeline::start(TargetState& target) {
  m_threads.emplace_back([this, &target] { run(target); });
}

void TargetPipeline::run(TargetState& target) {
  for (auto& stage : m_stages) {
    if (target.failed) {
      return;
    }
    stage->free.acquire();
    try {
      stage->work(target);
    } catch (...) {
      target.failed = true;
      std::lock_guard lock(m_mutex);
      if (!m_failure) {
        m_failure = std::current_exception();
      }
    }
    stage->free.release();
  }
}

void TargetPipeline::finish() {
  m_threads.clear();
  if (m_failure) {
    std::rethrow_exception(std::exchange(m_failure, nullptr));
  }
}

}  // namespace fleet::builder
