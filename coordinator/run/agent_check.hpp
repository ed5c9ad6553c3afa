// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/base/error.hpp"
#include "uploader/protocol/agent_version.hpp"

#include <string>

namespace fleet::coordinator {

// The laptop's rule for the agent on a build location (a build node or a self-building target):
// it must speak this fleet's protocol, or every message may be misread. Nobody brings an agent
// to these hosts (build nodes bring theirs to delegated targets), so each needs fleet-builder
// installed once; the errors below say how.

// Throws NodeError naming both releases and protocols and the fix when `agent` on `host`
// speaks another protocol than this fleet. Another release of the same protocol is accepted.
void check_agent_version(const protocol::AgentVersion& agent, const std::string& host);

// The NodeError for a location whose login shell has no fleet-builder.
NodeError missing_agent_error(const std::string& host);

// "install fleet-builder 0.1.0 on HOST: …", the ways to do it, for both errors above.
std::string install_advice(const std::string& host);

}  // namespace fleet::coordinator
