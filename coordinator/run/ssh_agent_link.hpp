// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/run/agent_link.hpp"
#include "uploader/ssh/ssh_session.hpp"

#include <memory>

namespace fleet::coordinator {

// The agent on a build location, reached over SSH: one session for everything but confirm()
// and attach(), which each open a connection of their own (a confirmation proves that a new
// connection gets through to the newly activated system). Every call runs `fleet-builder`
// through the login shell; the agent answers in JSON lines.
class SshAgentLink final : public AgentLink {
public:
  SshAgentLink(BuildLocation location, ssh::SshOptions options);

  void connect(const NoteSink& on_retry) override;
  AgentVersion version() override;
  TransferRecord upload(transfer::PayloadCache& payloads) override;
  transfer::RelayDestination address() const override;
  std::vector<transfer::RelayOutcome> relay(const std::string& hash, const transfer::RelayRequest& request) override;
  InputUpdate update_inputs(const std::string& hash, const std::string& flake,
                            const std::map<std::string, std::string>& nix_options) override;
  nlohmann::json inventory(const std::string& hash, const std::string& flake, protocol::InventoryKind kind,
                           const std::map<std::string, std::string>& nix_options) override;
  // The whole job is bounded by job_time_bound(): a silent or stuck agent ends in SshError timed_out.
  ssh::ExitStatus run_job(const protocol::BuildJob& job, const LineSink& on_event_line, const LineSink& on_stderr) override;
  std::string confirm(const std::string& id, std::chrono::seconds within) override;
  std::string attach(const std::string& id, std::size_t from, std::chrono::seconds within,
                     const LineSink& on_event_line) override;

private:
  BuildLocation m_location;
  ssh::SshOptions m_options;
  std::unique_ptr<ssh::SshSession> m_session;
};

// The links of a real run.
AgentLinkFactory ssh_agent_links(ssh::SshOptions options);

}  // namespace fleet::coordinator
