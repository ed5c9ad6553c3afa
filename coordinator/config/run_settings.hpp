// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/protocol/job.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace fleet::coordinator {

// Time limits of a run's phases, in seconds (fleet.json "timeouts"). A phase that runs longer
// fails its node (or every node of its build location) and the run goes on. The defaults the
// agent shares are the protocol's (uploader/protocol/job.hpp).
struct PhaseTimeouts {
  int connect = protocol::k_default_connect_timeout;    // one SSH connection attempt, from the laptop or a build node
  int upload = 600;                                     // one upload, greeting to verdict
  int inventory = 600;                                  // evaluating an inventory in the flake
  int build = protocol::k_default_build_timeout;        // evaluation, and the build of a location's targets
  int copy = protocol::k_default_copy_timeout;          // copying one closure to its target
  int activate = protocol::k_default_activate_timeout;  // activating one target

  bool operator==(const PhaseTimeouts&) const = default;
};

// Retries of transient SSH failures (fleet.json "retries"): `count` more attempts after the
// first, waiting `delay` seconds before the first retry and doubling it for each next one.
struct RetrySettings {
  int count = protocol::k_default_retry_count;
  int delay = protocol::k_default_retry_delay_seconds;

  bool operator==(const RetrySettings&) const = default;
};

// How much run history is kept (fleet.json "history"); older runs are pruned after each run.
struct HistorySettings {
  int keep = 100;         // at most this many runs
  int max_age_days = 90;  // and none older than this

  bool operator==(const HistorySettings&) const = default;
};

// The run-level settings of fleet.json.
struct RunSettings {
  PhaseTimeouts timeouts;
  RetrySettings retries;
  HistorySettings history;

  bool operator==(const RunSettings&) const = default;
};

// Reads the optional top-level "timeouts", "retries" and "history" objects of fleet.json (`root`,
// read from `file`); absent keys keep their defaults. Throws ConfigError naming the key for an
// unknown key, a wrong type or a value out of range (timeouts 1 s to 7 days, retries 0 to 10 with
// a delay of 0 to 600 s, keep 1 to 100000, maxAgeDays 1 to 36500).
RunSettings parse_run_settings(const std::string& file, const nlohmann::json& root);

// What a build job carries of these settings.
protocol::JobTimeouts job_timeouts(const PhaseTimeouts& timeouts);
protocol::JobRetries job_retries(const RetrySettings& retries);

}  // namespace fleet::coordinator
