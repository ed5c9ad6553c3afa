// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/protocol/action.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace fleet::builder {

// How far an activation got, written to its `stage` file before each step that changes the
// host, so that whoever finds it unfinished (`recover`) knows what there is to undo:
//   started                nothing changed yet (the preActivate hook may run)
//   switching              secrets and switch-to-configuration test (or dry-activate) under way
//   activated              the new system runs; post-activation secrets, hook and checks follow
//   awaiting-confirmation  waiting for the deployer's confirmation
//   committing             confirmed (or `boot`): the system profile and the boot entry change
//   ended                  the final event is written; nothing is left to do
enum class Stage { started, switching, activated, awaiting_confirmation, committing, ended };

std::string to_string(Stage stage);
std::optional<Stage> parse_stage(std::string_view text);

// What a rollback from `reached` has to put back. `switch` and `test` change the running
// system (and its secrets) from `switching` on; `switch` and `boot` change the system profile
// and the boot entry only from `committing` on.
struct Undo {
  bool secrets = false;         // re-install the previous generation's secrets
  bool running_system = false;  // previous system's `switch-to-configuration test`
  bool profile = false;         // `nix-env --switch-generation` back, previous `switch-to-configuration boot`

  bool nothing() const { return !secrets && !running_system && !profile; }
  bool operator==(const Undo&) const = default;
};

Undo undo_for(protocol::Action action, Stage reached);

// What `recover` does with an activation whose supervisor is gone.
enum class Recovery {
  nothing,        // it had ended
  roll_back,      // not confirmed: undo what undo_for() says (possibly nothing) and fail
  finish_commit,  // `switch` confirmed: set the profile and the boot entry, as the supervisor would have
  finish_ok,      // `test` confirmed: nothing is left to do but say so
};

// `decision` is what the activation's decision file holds ("confirmed", "expired" or none);
// recover records "expired" first, so a confirmation can no longer arrive after it decided.
Recovery decide_recovery(protocol::Action action, Stage reached, const std::optional<std::string>& decision);

}  // namespace fleet::builder
