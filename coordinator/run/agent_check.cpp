// SPDX-License-Identifier: MIT
#include "coordinator/run/agent_check.hpp"

namespace fleet::coordinator {

std::string install_advice(const std::string& host) {
  const std::string release = protocol::this_agent_version().version;
  return "install fleet-builder " + release + " on " + host +
         ": enable services.fleet-builder (nixosModules.builder of fleet " + release +
         "'s flake) and switch, or run `nix profile install <fleet " + release +
         "'s flake>#fleet` as the deploy user, or copy fleet " + release +
         "'s fleet-builder binary onto the deploy user's login PATH (build nodes and self-building targets need "
         "it installed once; delegated targets are brought one by their build node)";
}

void check_agent_version(const protocol::AgentVersion& agent, const std::string& host) {
  const auto ours = protocol::this_agent_version();
  if (agent.protocol != ours.protocol) {
    throw NodeError("fleet-builder on " + host + " is " + protocol::describe(agent) + ", this fleet is " +
                    protocol::describe(ours) + "; the protocols differ: " + install_advice(host));
  }
}

NodeError missing_agent_error(const std::string& host) {
  return NodeError("fleet-builder is not installed on " + host + " (the login shell found no fleet-builder): " +
                   install_advice(host));
}

}  // namespace fleet::coordinator
