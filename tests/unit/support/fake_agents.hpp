// SPDX-License-Identifier: MIT
// Test-only: scripted agents behind the AgentLink interface, in the style of Ninja's
// FakeCommandRunner. What each location does is set up before the run; what the run asked of
// each is recorded for the test to check. Links are called from the run's pool threads, so all
// shared state is behind one mutex.
#pragma once

#include "coordinator/run/agent_check.hpp"
#include "coordinator/run/agent_link.hpp"
#include "uploader/base/error.hpp"
#include "uploader/protocol/event.hpp"
#include "uploader/ssh/ssh_error.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace fleet::test {

class FakeAgents {
public:
  // How one location (by name) behaves.
  struct Script {
    bool unreachable = false;
    protocol::AgentVersion agent = protocol::this_agent_version();
    bool no_agent = false;  // its login shell finds no fleet-builder
    bool holds_source = false;             // it already holds every source it is offered
    std::set<std::string> cannot_relay_to;  // its relays to these locations fail
    // The job's connection drops after this many event lines (the agent "dies").
    std::size_t drop_job_after = std::numeric_limits<std::size_t>::max();
    // A self-building target: the job drops once its activation has started, and the activation
    // ends by itself; reattaching gives its last events.
    bool drop_during_activation = false;
    std::string update_error;  // update_inputs fails with this
    nlohmann::json inventory = nlohmann::json::object();  // what inventory() returns
    std::string inventory_error;  // inventory() fails with this (the flake does not evaluate)
  };

  std::map<std::string, Script> scripts;

  coordinator::AgentLinkFactory factory() {
    return [this](const coordinator::BuildLocation& location) { return std::make_unique<Link>(*this, location); };
  }

  // Every call the run made, in the order it made them: "b1 connect", "b1 upload", "b1 relay b2 t3",
  // "b1 job t1 t2", "t3 confirm", "t3 attach 2", "b1 update-inputs".
  std::vector<std::string> calls() const {
    std::lock_guard lock(m_mutex);
    return m_calls;
  }
  std::size_t count(const std::string& call) const {
    auto all = calls();
    return static_cast<std::size_t>(std::count(all.begin(), all.end(), call));
  }
  // The jobs each location was given, in order.
  std::vector<protocol::BuildJob> jobs(const std::string& location) const {
    std::lock_guard lock(m_mutex);
    auto it = m_jobs.find(location);
    return it == m_jobs.end() ? std::vector<protocol::BuildJob>{} : it->second;
  }
  // Where each source (hash) is held now.
  bool holds(const std::string& location, const std::string& hash) const {
    std::lock_guard lock(m_mutex);
    return m_held.count({location, hash}) != 0;
  }

  static constexpr std::uint64_t k_whole_bytes = 1000;
  static constexpr std::uint64_t k_delta_bytes = 40;

private:
  class Link final : public coordinator::AgentLink {
  public:
    Link(FakeAgents& agents, coordinator::BuildLocation location)
        : m_agents(agents), m_location(std::move(location)), m_script(agents.scripts[m_location.name]) {}

    void connect(const NoteSink& on_retry) override {
      record("connect");
      if (m_script.unreachable) {
        if (on_retry) {
          on_retry("retry 1 of 1 in 0 s: no route to host");
        }
        throw ssh::SshError(ssh::SshFailure::unreachable, "cannot connect to " + m_location.name + ": no route to host");
      }
    }

    coordinator::AgentVersion version() override {
      record("version");
      if (m_script.no_agent) {
        throw coordinator::missing_agent_error(m_location.name);
      }
      return m_script.agent;
    }

    coordinator::TransferRecord upload(transfer::PayloadCache& payloads) override {
      record("upload");
      coordinator::TransferRecord record{coordinator::k_laptop, m_location.name, 0, false, "", ""};
      if (m_script.holds_source || m_agents.holds(m_location.name, payloads.hash())) {
        record.skipped = true;
      } else {
        // Any earlier source here makes the payload a delta.
        record.base = m_agents.any_held(m_location.name);
        record.bytes = record.base.empty() ? k_whole_bytes : k_delta_bytes;
      }
      m_agents.hold(m_location.name, payloads.hash());
      return record;
    }

    transfer::RelayDestination address() const override { return {m_location.name, m_location.name, "", 22, ""}; }

    std::vector<transfer::RelayOutcome> relay(const std::string& hash, const transfer::RelayRequest& request) override {
      std::string call = "relay";
      for (const auto& d : request.destinations) {
        call += " " + d.host;
      }
      record(call);
      std::vector<transfer::RelayOutcome> outcomes;
      for (const auto& destination : request.destinations) {
        transfer::RelayOutcome outcome;
        outcome.to = destination.name;
        if (m_script.cannot_relay_to.count(destination.host)) {
          outcome.error = "Permission denied (publickey)";
        } else {
          outcome.ok = true;
          outcome.had = m_agents.holds(destination.host, hash);
          outcome.base = outcome.had ? "" : m_agents.any_held(destination.host);
          outcome.bytes = outcome.had ? 0 : (outcome.base.empty() ? k_whole_bytes : k_delta_bytes);
          m_agents.hold(destination.host, hash);
        }
        outcomes.push_back(outcome);
      }
      return outcomes;
    }

    coordinator::InputUpdate update_inputs(const std::string&, const std::string&,
                                           const std::map<std::string, std::string>&) override {
      record("update-inputs");
      if (!m_script.update_error.empty()) {
        throw NodeError(m_script.update_error);
      }
      return {"{\"nodes\": {}, \"version\": 7}\n", "• Updated input 'nixpkgs'"};
    }

    nlohmann::json inventory(const std::string&, const std::string&, protocol::InventoryKind kind,
                             const std::map<std::string, std::string>&) override {
      record("inventory " + protocol::to_string(kind));
      if (!m_script.inventory_error.empty()) {
        throw coordinator::InventoryError(m_script.inventory_error);
      }
      return m_script.inventory;
    }

    ssh::ExitStatus run_job(const protocol::BuildJob& job, const LineSink& on_event_line, const LineSink&) override {
      std::string call = "job";
      for (const auto& t : job.targets) {
        call += " " + t.node;
      }
      record(call);
      m_agents.add_job(m_location.name, job);
      std::size_t sent = 0;
      auto say = [&](const std::string& node, protocol::Phase phase, protocol::Status status,
                     nlohmann::json extra = nlohmann::json::object()) {
        if (sent++ >= m_script.drop_job_after) {
          throw ssh::SshError(ssh::SshFailure::connection_lost, "connection to " + m_location.name + " lost");
        }
        on_event_line(protocol::to_json_line({protocol::now_seconds(), node, phase, status, "", std::move(extra)}));
      };
      for (const auto& target : job.targets) {
        if (!m_agents.holds(m_location.name, job.source_hash)) {
          say(target.node, protocol::Phase::unpack, protocol::Status::fail, {{"why", "source missing"}});
          continue;
        }
        say(target.node, protocol::Phase::build, protocol::Status::start);
        say(target.node, protocol::Phase::build, protocol::Status::ok, {{"storePath", "/nix/store/x-" + target.node}});
        if (target.mode == protocol::TargetMode::delegate) {
          say(target.node, protocol::Phase::copy, protocol::Status::ok);
          if (!protocol::activates(target.action)) {
            continue;
          }
          say(target.node, protocol::Phase::activate, protocol::Status::ok);
          continue;
        }
        const std::string id = "act-" + target.node;
        say(target.node, protocol::Phase::activate, protocol::Status::start, {{"activation", id}});
        if (m_script.drop_during_activation) {
          throw ssh::SshError(ssh::SshFailure::connection_lost, "connection to " + m_location.name + " lost");
        }
        say(target.node, protocol::Phase::activate, protocol::Status::progress, {{"awaitConfirmation", id}});
        say(target.node, protocol::Phase::activate, protocol::Status::ok);
      }
      return {0, ""};
    }

    std::string confirm(const std::string& id, std::chrono::seconds) override {
      record("confirm " + id);
      return "confirmed over a new SSH connection";
    }

    std::string attach(const std::string& id, std::size_t from, std::chrono::seconds,
                       const LineSink& on_event_line) override {
      record("attach " + id + " " + std::to_string(from));
      on_event_line(protocol::to_json_line(
          {protocol::now_seconds(), m_location.name, protocol::Phase::activate, protocol::Status::ok, "", {}}));
      return "the activation of " + m_location.name + " ended";
    }

  private:
    void record(const std::string& what) { m_agents.add_call(m_location.name + " " + what); }

    FakeAgents& m_agents;
    coordinator::BuildLocation m_location;
    Script m_script;
  };

  void add_call(const std::string& call) {
    std::lock_guard lock(m_mutex);
    m_calls.push_back(call);
  }
  void add_job(const std::string& location, const protocol::BuildJob& job) {
    std::lock_guard lock(m_mutex);
    m_jobs[location].push_back(job);
  }
  std::string any_held(const std::string& location) const {
    std::lock_guard lock(m_mutex);
    for (const auto& [where, hash] : m_held) {
      if (where == location) {
        return hash;
      }
    }
    return "";
  }
  void hold(const std::string& location, const std::string& hash) {
    std::lock_guard lock(m_mutex);
    m_held.insert({location, hash});
  }

  mutable std::mutex m_mutex;
  std::vector<std::string> m_calls;
  std::map<std::string, std::vector<protocol::BuildJob>> m_jobs;
  std::set<std::pair<std::string, std::string>> m_held;
};

}  // namespace fleet::test
