// SPDX-License-Identifier: MIT
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fleet::protocol {

// What a deployment does with a target's new system, with nixos-rebuild's meanings:
// switch_ (`switch`, a keyword in C++) sets the system profile and activates now; boot sets the
// profile for the next boot; test activates now without touching the profile; dry_activate says
// what activating would do; build only builds (and copies) the closure.
enum class Action { switch_, boot, test, dry_activate, build };

// The action as fleet.json, the command line and the wire spell it: "switch", "dry-activate"…
std::string to_string(Action action);

// The action spelled `text`, or nullopt when `text` names none.
std::optional<Action> parse_action(std::string_view text);

// Every action's name, in the order of the enum: for CLI11 IsMember and for error messages.
const std::vector<std::string>& action_names();

// The names for a person: "switch, boot, test, dry-activate or build".
std::string action_names_text();

// True unless `build`: switch-to-configuration (or nixos-rebuild ACTION) runs on the target.
bool activates(Action action);

// switch and boot: the system profile gains a generation, so a rollback switches it back.
bool sets_system_profile(Action action);

// switch and test: the new system runs now, so what ran before is restored on a rollback.
bool changes_running_system(Action action);

// switch, boot and test: the target is left different; dry-activate and build change nothing,
// so a failure there has nothing to roll back.
bool changes_target(Action action);

// switch, boot and test: the node's secrets are installed around the activation. A dry run
// leaves the target as it was, secrets included.
bool installs_secrets(Action action);

// switch and test: health checks run and the target waits for the deployer's confirmation
// before keeping the new system, because the running system is what may cut the deployer off.
bool awaits_confirmation(Action action);

}  // namespace fleet::protocol
