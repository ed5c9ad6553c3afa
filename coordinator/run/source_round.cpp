// SPDX-License-Identifier: MIT
#include "coordinator/run/source_round.hpp"

#include "uploader/base/error.hpp"

#include <map>

namespace fleet::coordinator {
namespace {

using protocol::Phase;
using protocol::Status;

// How many locations one node sends the source on to: enough that a copy reaches 40 locations
// in three hops, few enough that one node's uplink is not the bottleneck.
constexpr std::size_t k_relay_fanout = 3;

std::string short_hash(const std::string& hash) { return hash.substr(0, 12); }

std::string describe(const TransferRecord& transfer) {
  if (transfer.skipped) {
    return transfer.to + " already holds this source";
  }
  return transfer.to + " got the source from " + transfer.from + ": " + std::to_string(transfer.bytes) + " bytes" +
         (transfer.base.empty() ? "" : " (delta against " + short_hash(transfer.base) + ")");
}

// Each relay destination is named by its index: two locations may share a host name.
std::string destination_name(std::size_t location) { return "location-" + std::to_string(location); }

}  // namespace

SourceRound::SourceRound(RunState& state, transfer::HeldSource source, transfer::BaseLookup earlier_tar,
                         LostHandler on_lost, std::function<void()> on_progress)
    : m_state(state), m_payloads(std::make_shared<transfer::PayloadCache>(std::move(source), std::move(earlier_tar))),
      m_distribution(k_relay_fanout), m_on_lost(std::move(on_lost)), m_on_progress(std::move(on_progress)) {}

void SourceRound::need(std::size_t location) {
  m_distribution.need(location, m_state.location(location).is_builder);
  advance();
}

void SourceRound::advance() {
  for (auto& step : m_distribution.next()) {
    if (step.from) {
      relay(*step.from, step.to);
    } else {
      upload(step.to.front(), step.note);
    }
  }
  m_on_progress();
}

TransferRecord SourceRound::upload_now(AgentLink& link, const std::string& note) {
  TransferRecord transfer = link.upload(*m_payloads);
  transfer.note = note;
  return transfer;
}

void SourceRound::upload(std::size_t to, const std::string& note) {
  m_state.tell_open(to, Phase::upload, Status::start,
                    "sending the source to " + m_state.location(to).name + " from the laptop" +
                        (note.empty() ? "" : " (" + note + ")"));
  AgentLink* link = m_state.runs[to]->link.get();
  m_state.loop.offload(RunLoop::Pool::jobs, [this, to, link, note]() -> RunLoop::Continuation {
    try {
      TransferRecord transfer = upload_now(*link, note);
      return [this, to, transfer] { arrived(to, transfer); };
    } catch (const Error& e) {
      return [this, to, error = std::string(e.what())] {
        m_distribution.failed(to, std::nullopt, error);
        m_on_lost(to, error);
        advance();
      };
    }
  });
}

void SourceRound::relay(std::size_t from, const std::vector<std::size_t>& to) {
  transfer::RelayRequest request;
  request.timeout = m_state.location(from).run.timeouts.upload;
  for (auto j : to) {
    auto destination = m_state.runs[j]->link->address();
    destination.name = destination_name(j);
    request.destinations.push_back(std::move(destination));
    m_state.tell_open(j, Phase::upload, Status::start,
                      m_state.location(from).name + " sends the source to " + m_state.location(j).name);
  }
  AgentLink* link = m_state.runs[from]->link.get();
  m_state.loop.offload(RunLoop::Pool::jobs, [this, from, link, request]() -> RunLoop::Continuation {
    std::vector<transfer::RelayOutcome> outcomes;
    try {
      outcomes = link->relay(hash(), request);
    } catch (const Error& e) {
      for (const auto& destination : request.destinations) {
        transfer::RelayOutcome failed;
        failed.to = destination.name;
        failed.error = e.what();
        outcomes.push_back(std::move(failed));
      }
    }
    return [this, from, outcomes] { relayed(from, outcomes); };
  });
}

void SourceRound::relayed(std::size_t from, const std::vector<transfer::RelayOutcome>& outcomes) {
  m_distribution.relay_ended(from);
  std::map<std::string, std::size_t> by_name;
  for (std::size_t j = 0; j < m_state.runs.size(); ++j) {
    by_name[destination_name(j)] = j;
  }
  const std::string& sender = m_state.location(from).name;
  for (const auto& outcome : outcomes) {
    const std::size_t to = by_name.at(outcome.to);
    if (outcome.ok) {
      arrived(to, TransferRecord{sender, m_state.location(to).name, outcome.bytes, outcome.had, outcome.base, ""});
      continue;
    }
    m_distribution.failed(to, from, sender + ": " + outcome.error);
    m_state.tell_open(to, Phase::upload, Status::progress,
                      sender + " could not send the source to " + m_state.location(to).name + " (" + outcome.error +
                          "); trying another source");
  }
  advance();
}

void SourceRound::arrived(std::size_t location, const TransferRecord& transfer) {
  m_state.recorder.add_transfer(transfer);
  m_distribution.received(location);
  m_state.tell_open(location, Phase::upload, Status::ok,
                    describe(transfer) + (transfer.note.empty() ? "" : "; " + transfer.note));
  advance();
}

}  // namespace fleet::coordinator
