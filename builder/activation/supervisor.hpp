// SPDX-License-Identifier: MIT
#pragma once

#include "builder/activation/activation_store.hpp"
#include "builder/activation/target_lock.hpp"
#include "builder/secrets/secret_install.hpp"

#include <string>

namespace fleet::builder {

// The root process that carries out one activation, detached, so that losing the SSH session
// that started it (a network restart during the switch) cannot stop it half-way. It holds the
// target's lock for its whole life (recovering first an activation whose supervisor died with
// it) and ends a switch-to-configuration such a supervisor left running. Then, for `switch`:
// the preActivate hook, the pre-activation secrets, `switch-to-configuration test`, the
// post-activation secrets, the postActivate hook, the health checks, the wait for the
// deployer's confirmation and only then the system profile and `switch-to-configuration boot`,
// so that an unconfirmed generation never becomes the boot default. `test` stops before the
// profile; `boot` sets the profile and the boot entry only (its secrets are installed when it
// boots); `dry-activate` only asks. Any failure before the end puts back what had changed.
// Every step is an event in the activation's events file; the last one carries
// "final": "ok" | "failed" | "rolled-back". Returns the process exit code.
int run_supervisor(const ActivationStore& store, const std::string& id, const secrets::SecretOptions& secret_options,
                   const TargetLock& lock = TargetLock());

}  // namespace fleet::builder
