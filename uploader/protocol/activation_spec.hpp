// SPDX-License-Identifier: MIT
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace fleet::protocol {

// One health check as fleet.json gives it: {"type": "command"|"tcp"|"http"|"systemd"|
// "system-running", …type fields, "timeout", "retries", "interval"}.
using HealthCheck = nlohmann::json;

// The defaults of fleet.json's hooks.timeout and confirmTimeout, in seconds, which the agent also
// applies when a job omits them.
inline constexpr int k_default_hook_timeout = 300;
inline constexpr int k_default_confirm_timeout = 30;

// How a target is activated safely: hooks around the switch, health checks after it, and how
// long the target waits for the deployer's confirmation before it rolls back by itself.
struct ActivationSpec {
  std::vector<HealthCheck> health_checks;
  std::string pre_activate_hook;   // shell command; failing stops the node before any change
  std::string post_activate_hook;  // shell command; failing fails the node
  int hook_timeout = k_default_hook_timeout;  // seconds
  bool rollback_on_hook_failure = false;
  int confirm_timeout = k_default_confirm_timeout;  // seconds

  bool operator==(const ActivationSpec&) const = default;
};

nlohmann::json to_json(const ActivationSpec& spec);

// Validates a spec received from the other side; throws ProtocolError naming the field, with
// `where` (e.g. "targets.t1.activation.") in front of it.
ActivationSpec parse_activation_spec(const nlohmann::json& json, const std::string& where);

}  // namespace fleet::protocol
