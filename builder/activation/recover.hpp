// SPDX-License-Identifier: MIT
#pragma once

#include "builder/activation/activation_store.hpp"
#include "builder/activation/target_lock.hpp"
#include "builder/event_writer.hpp"
#include "builder/secrets/secret_install.hpp"

#include <string>

namespace fleet::builder {

// What recover found or did: the final event's result and message.
struct RecoverOutcome {
  std::string result;   // "ok", "failed", "rolled-back"
  std::string message;  // the final event's message
};

// `fleet-builder recover --id ID`, as root: finishes an activation whose supervisor is gone.
// Waits for whoever holds the activation's flock; a finished activation is left alone (its
// final event is returned). Otherwise "expired" is decided first, so no confirmation can arrive
// any more, and decide_recovery() says what follows: a confirmed `switch` is committed, a
// confirmed `test` is done, anything else is rolled back as far as its stage requires. Every
// step is written to the activation's events file, so a follower sees it.
RecoverOutcome recover_activation(const ActivationStore& store, const std::string& id,
                                  const secrets::SecretOptions& secret_options);

// The command: recover_activation(), then the target's holder file is removed when it names
// this activation and its lock is free. The final event is printed to `out`. Exit code.
int run_recover(const ActivationStore& store, const std::string& id, const secrets::SecretOptions& secret_options,
                EventWriter& out, const TargetLock& lock = TargetLock());

// `fleet-builder recover --boot`, as root, once at boot: every unfinished activation ended with
// the reboot (final "rolled-back", or "ok" when the host booted its new system), then the
// secrets of the generation the system profile points at are installed. Exit code.
int run_recover_at_boot(const ActivationStore& store, const secrets::SecretOptions& secret_options, EventWriter& out);

}  // namespace fleet::builder
