// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/report/run_report.hpp"
#include "coordinator/run/build_location.hpp"
#include "uploader/base/error.hpp"
#include "uploader/protocol/agent_version.hpp"
#include "uploader/protocol/inventory.hpp"
#include "uploader/protocol/job.hpp"
#include "uploader/ssh/ssh_channel.hpp"
#include "uploader/transfer/relay_messages.hpp"
#include "uploader/transfer/source_payload.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace fleet::coordinator {

// What `fleet-builder version --json` says of itself.
using AgentVersion = protocol::AgentVersion;

// What `nix flake update` made of the source on a build location.
struct InputUpdate {
  std::string flake_lock;  // the new lock file's text
  std::string log;         // nix's messages ("• Updated input 'nixpkgs': …")
};

// The flake's inventory does not evaluate: a configuration error (exit 2), nothing deployed.
class InventoryError : public ConfigError {
public:
  using ConfigError::ConfigError;
};

// Everything the coordinator asks of the agent on one build location. The run orchestrator
// talks to agents through this interface only; SshAgentLink is the implementation the product
// uses, and the orchestrator's tests use a fake.
//
// connect() comes first. After it, everything but confirm() and attach() is used from one
// thread at a time, in the order the orchestrator chooses. confirm() and attach() open
// connections of their own and may run on another thread while a job runs.
// Failures throw: fleet::NodeError (ssh::SshError for the transport) for this location's
// problems, fleet::ProtocolError for an agent that answered nonsense.
class AgentLink {
public:
  using LineSink = std::function<void(std::string_view)>;
  using NoteSink = std::function<void(const std::string&)>;

  virtual ~AgentLink() = default;

  // Reaches the location and authenticates, retrying transient failures as its run settings say
  // (each retry announced to `on_retry`).
  virtual void connect(const NoteSink& on_retry) = 0;

  // The agent's own version; a location without an agent throws NodeError with the fix.
  virtual AgentVersion version() = 0;

  // Sends the source unless the location already holds it: a delta when `payloads` can make
  // one against a tar the agent keeps. The record names the laptop as the sender.
  virtual TransferRecord upload(transfer::PayloadCache& payloads) = 0;

  // How other nodes reach this location: the address the connection resolved and the host key it
  // verified. Valid after connect().
  virtual transfer::RelayDestination address() const = 0;

  // Has the location send the source `hash` it holds on to every destination of `request`. One
  // outcome per destination, failures included.
  virtual std::vector<transfer::RelayOutcome> relay(const std::string& hash, const transfer::RelayRequest& request) = 0;

  // Runs `nix flake update` on the source `hash` (already there) and returns the new lock.
  virtual InputUpdate update_inputs(const std::string& hash, const std::string& flake,
                                    const std::map<std::string, std::string>& nix_options) = 0;

  // Evaluates the inventory of `kind` that the flake `flake` of the source `hash` (already there)
  // declares, and returns it as nix printed it. Throws InventoryError when nix cannot evaluate it
  // (the flake's fault: another location would fail alike).
  virtual nlohmann::json inventory(const std::string& hash, const std::string& flake, protocol::InventoryKind kind,
                                   const std::map<std::string, std::string>& nix_options) = 0;

  // Runs the build job, passing each line the agent prints (an event, unvalidated) to
  // `on_event_line` and each line of its stderr to `on_stderr`, and returns how the agent exited.
  // A job that outlives its time bound throws ssh::SshError timed_out.
  virtual ssh::ExitStatus run_job(const protocol::BuildJob& job, const LineSink& on_event_line,
                                  const LineSink& on_stderr) = 0;

  // Tells the activation `id` on this (self-building) location that its deployer got through to it
  // again, over a new connection, retrying until `within` has passed. Returns what happened, in
  // words for the node's log.
  virtual std::string confirm(const std::string& id, std::chrono::seconds within) = 0;

  // Follows the activation `id` again over a new connection, from its event number `from` to its
  // end, passing each line to `on_event_line`; retries while the location is unreachable, until
  // `within` has passed. Returns how the attempt ended, in words.
  virtual std::string attach(const std::string& id, std::size_t from, std::chrono::seconds within,
                             const LineSink& on_event_line) = 0;
};

// Makes the link to one build location.
using AgentLinkFactory = std::function<std::unique_ptr<AgentLink>(const BuildLocation&)>;

}  // namespace fleet::coordinator
