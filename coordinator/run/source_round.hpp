// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/run/run_state.hpp"
#include "coordinator/run/source_distribution.hpp"
#include "uploader/transfer/source_payload.hpp"

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace fleet::coordinator {

// Has one source reach every location that needs it: the laptop uploads it once (a delta when the
// receiver keeps an earlier tar) and the holders relay it on, as SourceDistribution decides. Every
// transfer is recorded. Runs on the loop thread; the transfers themselves on the job pool.
class SourceRound {
public:
  // A location the laptop could not send to: its nodes are for the caller to fail or move.
  using LostHandler = std::function<void(std::size_t location, const std::string& error)>;

  // `on_progress` is called on the loop thread whenever done() may have become true.
  SourceRound(RunState& state, transfer::HeldSource source, transfer::BaseLookup earlier_tar, LostHandler on_lost,
              std::function<void()> on_progress);

  const std::string& hash() const { return m_payloads->hash(); }

  // `location` needs the source; the transfers that can start now start.
  void need(std::size_t location);
  bool holds(std::size_t location) const { return m_distribution.holds(location); }
  // Nothing queued and nothing under way.
  bool done() const { return m_distribution.done(); }

  // From the job pool: sends the source from the laptop over `link` now, outside the relay tree
  // (for a location that joined after the source went round). Returns the record to pass to
  // arrived() on the loop thread.
  TransferRecord upload_now(AgentLink& link, const std::string& note);
  // `location` got the source (or already held it), as `transfer` says.
  void arrived(std::size_t location, const TransferRecord& transfer);

private:
  void advance();
  void upload(std::size_t to, const std::string& note);
  void relay(std::size_t from, const std::vector<std::size_t>& to);
  void relayed(std::size_t from, const std::vector<transfer::RelayOutcome>& outcomes);

  RunState& m_state;
  std::shared_ptr<transfer::PayloadCache> m_payloads;
  SourceDistribution m_distribution;
  LostHandler m_on_lost;
  std::function<void()> m_on_progress;
};

}  // namespace fleet::coordinator
