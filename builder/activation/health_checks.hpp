// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/protocol/activation_spec.hpp"

#include <string>

namespace fleet::builder {

// What one health check found on its last attempt.
struct CheckOutcome {
  bool passed = false;
  std::string summary;  // "tcp 127.0.0.1:80", "command 'systemctl is-active nginx'"
  std::string output;   // what the check saw: the command's output, the HTTP status, the error
  int attempts = 0;
};

// Runs one check on this host: attempt, and on failure wait `interval` seconds and try again,
// up to `retries` more times. Each attempt is bounded by `timeout` seconds. Never throws.
CheckOutcome run_health_check(const protocol::HealthCheck& check);

}  // namespace fleet::builder
