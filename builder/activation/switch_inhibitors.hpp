// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/protocol/action.hpp"

#include <filesystem>
#include <optional>
#include <string>

namespace fleet::builder {

// NixOS writes `switch-inhibitors` into a system toplevel (system.switch.inhibitors): what may
// not change under a running system, such as its systemd. When the running system and the new
// one both have the file and their contents differ, `switch` and `test` are refused, as
// nixos-rebuild refuses them; `boot` and a reboot are the way. Returns the refusal, or nullopt.
std::optional<std::string> switch_inhibited(protocol::Action action, const std::optional<std::string>& running,
                                            const std::optional<std::string>& next);

// switch_inhibited() on the files of the two toplevels.
std::optional<std::string> check_switch_inhibitors(protocol::Action action, const std::filesystem::path& running_system,
                                                   const std::filesystem::path& new_system);

}  // namespace fleet::builder
