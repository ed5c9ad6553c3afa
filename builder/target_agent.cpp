// SPDX-License-Identifier: MIT
#include "builder/target_agent.hpp"

#include "builder/agent_store.hpp"
#include "uploader/base/error.hpp"
#include "uploader/base/process.hpp"

#include <system_error>

namespace fleet::builder {
namespace {

namespace fs = std::filesystem;

constexpr int k_command_not_found = 127;
constexpr std::chrono::seconds k_local_version_timeout{15};

std::string why_not_own(const TargetAgentProbe& probe) {
  const auto ours = protocol::describe(protocol::this_agent_version());
  switch (probe.outcome) {
    case TargetAgentProbe::Outcome::missing:
      return "target has no fleet-builder";
    case TargetAgentProbe::Outcome::different:
      return "target's fleet-builder " + protocol::describe(probe.version) + " differs from this build node's " + ours;
    case TargetAgentProbe::Outcome::unreadable:
      return "target's fleet-builder gave no version (" + probe.detail + ")";
    default:
      return "target's fleet-builder was not asked its version";
  }
}

}  // namespace

TargetAgentProbe read_agent_probe(int exit_code, std::string_view first_line) {
  TargetAgentProbe probe;
  if (exit_code == k_command_not_found) {
    probe.outcome = TargetAgentProbe::Outcome::missing;
    return probe;
  }
  if (exit_code != 0) {
    probe.outcome = TargetAgentProbe::Outcome::unreadable;
    probe.detail = "`" + std::string(k_agent_version_command) + "` exited with " + std::to_string(exit_code);
    return probe;
  }
  try {
    probe.version = protocol::parse_agent_version(first_line);
  } catch (const ProtocolError& e) {
    probe.outcome = TargetAgentProbe::Outcome::unreadable;
    probe.detail = e.what();
    return probe;
  }
  probe.outcome = probe.version == protocol::this_agent_version() ? TargetAgentProbe::Outcome::same
                                                                   : TargetAgentProbe::Outcome::different;
  return probe;
}

std::string describe_probe(const TargetAgentProbe& probe) {
  switch (probe.outcome) {
    case TargetAgentProbe::Outcome::same:
    case TargetAgentProbe::Outcome::different:
      return "its fleet-builder is " + protocol::describe(probe.version);
    case TargetAgentProbe::Outcome::missing:
      return "it has no fleet-builder";
    case TargetAgentProbe::Outcome::unreadable:
      return "its fleet-builder gave no version (" + probe.detail + ")";
    case TargetAgentProbe::Outcome::not_probed:
      break;
  }
  return "its fleet-builder was not asked";
}

TargetAgent choose_target_agent(const TargetAgentProbe& probe,
                                const std::function<std::optional<std::string>()>& system_agent,
                                const std::function<std::string()>& brought_path) {
  TargetAgent agent;
  if (probe.outcome == TargetAgentProbe::Outcome::same) {
    agent.why = "using the target's fleet-builder " + protocol::describe(probe.version) + ", this build node's release";
    return agent;
  }
  if (auto in_system = system_agent()) {
    agent.command = *in_system;
    agent.why = why_not_own(probe) + ": using the new system's " + agent.command;
    return agent;
  }
  agent.copied = brought_path();
  agent.command = agent.copied + "/bin/fleet-builder";
  agent.why = why_not_own(probe) + ": bringing " + agent.copied;
  return agent;
}

std::optional<std::string> system_closure_agent(const std::string& system_path) {
  std::error_code error;
  auto resolved = fs::canonical(fs::path(system_path) / "sw/bin/fleet-builder", error);
  if (error || !agent_store_path_of(resolved) || local_agent_version(resolved) != protocol::this_agent_version()) {
    return std::nullopt;
  }
  return resolved.string();
}

std::optional<protocol::AgentVersion> local_agent_version(const fs::path& agent) {
  FirstLine first_line;
  // An empty FLEET_AGENT_PATH: this agent's own must not tell the other binary who it is.
  try {
    auto result = run_process(
        {{agent.string(), "version", "--json"}, {{"FLEET_AGENT_PATH", ""}}, "", k_local_version_timeout}, first_line.sink());
    if (!result.ok()) {
      return std::nullopt;
    }
    return protocol::parse_agent_version(first_line.text());
  } catch (const Error&) {
    return std::nullopt;  // another architecture's binary, or a broken answer: the agent is brought instead
  }
}

std::string BroughtAgent::path() {
  std::lock_guard lock(m_mutex);
  if (!m_path) {
    m_path = agent_store_path(m_nix, m_state_dir);
  }
  return *m_path;
}

}  // namespace fleet::builder
