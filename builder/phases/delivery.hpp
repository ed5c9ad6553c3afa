// SPDX-License-Identifier: MIT
#pragma once

#include "builder/event_writer.hpp"
#include "builder/nix_cli.hpp"
#include "builder/phases/target_state.hpp"

#include <filesystem>
#include <utility>
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

// Delivers built targets, one per call and several calls at once: a delegated target gets its
// closure copied (`nix copy`) and is then activated by the agent on the target, whose events are
// relayed; a self-building one (this host) is activated here. Copies and activations are bounded
// by `limits.timeouts`; a copy, or an activation whose connection never reached the target, is
// retried after a transient SSH failure. Whatever fails fails that target only.
class Deliverer {
public:
  Deliverer(const NixCli& nix, std::filesystem::path state_dir, std::filesystem::path work_dir, EventWriter& events,
            DeliveryLimits limits, RunIdentity identity)
      : m_nix(nix), m_state_dir(state_dir), m_work_dir(std::move(work_dir)), m_events(events), m_limits(limits),
        m_identity(std::move(identity)), m_brought(nix, std::move(state_dir)) {}

  void deliver(TargetState& state);

private:
  const NixCli& m_nix;
  std::filesystem::path m_state_dir;
  std::filesystem::path m_work_dir;
  EventWriter& m_events;
  DeliveryLimits m_limits;
  RunIdentity m_identity;
  BroughtAgent m_brought;  // fetched once, for every target that needs it
};

}  // namespace fleet::builder
