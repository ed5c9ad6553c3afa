// SPDX-License-Identifier: MIT
#pragma once

#include "builder/event_writer.hpp"
#include "builder/nix_cli.hpp"
#include "builder/phases/target_state.hpp"

#include <filesystem>
#include <vector>

namespace fleet::builder {

// The job's time limits and SSH retry policy, as they apply to reaching and delivering targets.
struct DeliveryLimits {
  protocol::JobTimeouts timeouts;
  protocol::JobRetries retries;
};

// Checks, before anything is built, that every delegated target answers over SSH with the
// expected host key, so an unreachable target is reported at once rather than after its build.
// Transient SSH failures are retried as `limits.retries` says; each try gets timeouts.connect.
void probe_targets(std::vector<TargetState>& targets, const std::filesystem::path& work_dir, EventWriter& events,
                   const DeliveryLimits& limits = {});

// Who asks for the deliveries: named in each activation's record and in the target's lock.
struct RunIdentity {
  std::string run_id;
  std::string deployer;  // user@host
};

// Delivers each built target: a delegated one gets its closure copied (`nix copy`) and is then
// activated by the agent on the target, whose events are relayed; a self-building one (this
// host) is activated here. Targets run in parallel, at most `parallel` at a time. Copies and
// activations are bounded by `limits.timeouts`; a copy, or an activation whose connection never
// reached the target, is retried after a transient SSH failure.
void deliver_targets(std::vector<TargetState>& targets, const NixCli& nix, const std::filesystem::path& state_dir,
                     const std::filesystem::path& work_dir, std::size_t parallel, EventWriter& events,
                     const DeliveryLimits& limits = {}, const RunIdentity& identity = {});

}  // namespace fleet::builder
