// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace fleet::coordinator {

// Decides who sends the source to whom, so that the laptop uploads it once whatever the
// number of build locations: the laptop sends it to one location (a builder when there is one),
// and every location that holds it sends it on to at most `fanout` others, builders first, so
// copies spread as a tree over the nodes' own links. A location a relay failed to reach is
// offered to another holder; only when no holder can serve it does the laptop upload to it
// again, and the step says why. Pure bookkeeping: the caller carries out the steps and reports
// back. Locations are the caller's indices.
class SourceDistribution {
public:
  explicit SourceDistribution(std::size_t fanout) : m_fanout(fanout) {}

  // One transfer to start: from the laptop (no `from`) or from a holder, to `to`.
  struct Step {
    std::optional<std::size_t> from;
    std::vector<std::size_t> to;
    std::string note;  // why the laptop sends again, for a fallback
  };

  // `location` needs the source; builders are served (and so relay) before self-building targets.
  void need(std::size_t location, bool is_builder);

  // The transfers that can start now; each destination appears in one step until it is
  // reported received or failed.
  std::vector<Step> next();

  // `location` now holds the source (or already did).
  void received(std::size_t location);

  // The transfer to `location` from `from` (none: the laptop) failed because `why`. A relay's
  // destination goes back in the queue for another source; after a failed laptop upload the
  // location is given up (the caller fails its nodes). `from`, if a holder, is free again.
  void failed(std::size_t location, std::optional<std::size_t> from, const std::string& why);

  // A holder finished relaying (whatever each destination's outcome): it may serve again.
  void relay_ended(std::size_t from);

  bool holds(std::size_t location) const { return m_holders.count(location) != 0; }
  // Nothing queued and nothing under way.
  bool done() const { return m_queue.empty() && m_in_flight.empty() && m_busy.empty(); }

private:
  struct Needer {
    std::size_t location;
    bool is_builder;
  };

  std::size_t m_fanout;
  std::deque<Needer> m_queue;
  std::vector<std::size_t> m_holders_in_order;  // who received first relays first
  std::set<std::size_t> m_holders;
  std::set<std::size_t> m_builders;
  std::map<std::size_t, std::size_t> m_served;             // holder → destinations given so far
  std::set<std::size_t> m_busy;                            // holders relaying now
  std::set<std::size_t> m_in_flight;                       // destinations being sent to
  std::map<std::size_t, std::set<std::size_t>> m_refused;  // destination → holders that failed it
  std::map<std::size_t, std::string> m_failures;           // destination → last relay failure
  bool m_laptop_busy = false;
};

}  // namespace fleet::coordinator
