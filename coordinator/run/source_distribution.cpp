// SPDX-License-Identifier: MIT
#include "coordinator/run/source_distribution.hpp"

#include <algorithm>

namespace fleet::coordinator {

void SourceDistribution::need(std::size_t location, bool is_builder) {
  if (is_builder) {
    m_builders.insert(location);
    // Builders go before self-building targets, keeping the order among each.
    auto first_target = std::find_if(m_queue.begin(), m_queue.end(), [](const Needer& n) { return !n.is_builder; });
    m_queue.insert(first_target, {location, true});
  } else {
    m_queue.push_back({location, false});
  }
}

std::vector<SourceDistribution::Step> SourceDistribution::next() {
  std::vector<Step> steps;
  if (m_holders.empty()) {
    // The first copy comes from the laptop, to one location at a time until one holds it.
    if (!m_laptop_busy && !m_queue.empty()) {
      m_laptop_busy = true;
      Step step{std::nullopt, {m_queue.front().location}, ""};
      m_in_flight.insert(m_queue.front().location);
      m_queue.pop_front();
      steps.push_back(std::move(step));
    }
    return steps;
  }
  // Builders relay before self-building targets, then whoever received first.
  std::vector<std::size_t> relayers;
  for (auto holder : m_holders_in_order) {
    if (m_builders.count(holder) != 0) {
      relayers.push_back(holder);
    }
  }
  for (auto holder : m_holders_in_order) {
    if (m_builders.count(holder) == 0) {
      relayers.push_back(holder);
    }
  }
  for (auto holder : relayers) {
    if (m_busy.count(holder) != 0 || m_served[holder] >= m_fanout) {
      continue;
    }
    Step step{holder, {}, ""};
    for (auto it = m_queue.begin(); it != m_queue.end() && m_served[holder] < m_fanout;) {
      if (m_refused[it->location].count(holder) != 0) {
        ++it;
        continue;
      }
      step.to.push_back(it->location);
      m_in_flight.insert(it->location);
      ++m_served[holder];
      it = m_queue.erase(it);
    }
    if (!step.to.empty()) {
      m_busy.insert(holder);
      steps.push_back(std::move(step));
    }
  }
  // No holder can serve what is left, now or later: the laptop sends it after all.
  if (steps.empty() && m_busy.empty() && m_in_flight.empty()) {
    while (!m_queue.empty()) {
      auto location = m_queue.front().location;
      m_queue.pop_front();
      auto failure = m_failures.find(location);
      std::string note = failure != m_failures.end() ? "no node could relay it (" + failure->second + ")"
                                                     : "every node that holds it has relayed to its limit of " +
                                                           std::to_string(m_fanout) + " locations";
      m_in_flight.insert(location);
      steps.push_back({std::nullopt, {location}, "sent from the laptop again: " + note});
    }
  }
  return steps;
}

void SourceDistribution::received(std::size_t location) {
  m_in_flight.erase(location);
  if (m_holders.insert(location).second) {
    m_holders_in_order.push_back(location);
  }
  m_laptop_busy = false;
}

void SourceDistribution::failed(std::size_t location, std::optional<std::size_t> from, const std::string& why) {
  m_in_flight.erase(location);
  if (!from) {
    m_laptop_busy = false;
    return;
  }
  m_refused[location].insert(*from);
  m_failures[location] = why;
  auto builder = m_builders.count(location) != 0;
  need(location, builder);
}

void SourceDistribution::relay_ended(std::size_t from) { m_busy.erase(from); }

}  // namespace fleet::coordinator
