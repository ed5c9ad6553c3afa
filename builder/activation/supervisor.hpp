// SPDX-License-Identifier: MIT
#pragma once

#include "builder/activation/activation_store.hpp"

#include <string>

namespace fleet::builder {

// The detached process that carries out one activation, so that losing the SSH session that
// started it (a network restart during the switch) cannot stop it half-way. In order: the
// preActivate hook, the system profile (switch, boot), switch-to-configuration, the
// postActivate hook, the health checks, and for switch and test the wait for the deployer's
// confirmation. A failed check, a missing confirmation or a failed switch puts the previous
// generation back. Every step is an event in the activation's events file; the last one carries
// "final": "ok" | "failed" | "rolled-back". Returns the process exit code.
int run_supervisor(const ActivationStore& store, const std::string& id);

// Starts `fleet-builder supervise --id ID` detached from this process's session: in a transient
// systemd unit when systemd runs the host (as nixos-rebuild does), otherwise in a new session of
// its own. Throws fleet::Error when it cannot be started.
void spawn_supervisor(const std::filesystem::path& state_dir, const std::string& id);

}  // namespace fleet::builder
