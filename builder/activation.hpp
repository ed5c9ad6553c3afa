// SPDX-License-Identifier: MIT
#pragma once

#include "builder/event_writer.hpp"
#include "builder/nix_cli.hpp"

#include <string>

namespace fleet::builder {

// What to activate on this host: a system closure already in the local store.
struct ActivationRequest {
  std::string node;
  std::string store_path;  // /nix/store/…-nixos-system-…
  std::string action;      // switch | boot | test | dry-activate | build
  int timeout_seconds = 1800;  // switch-to-configuration is killed after this long
};

inline constexpr const char* k_system_profile = "/nix/var/nix/profiles/system";

// Performs nixos-rebuild's own steps on this host: for switch and boot, the system profile is
// set to the closure; then `bin/switch-to-configuration ACTION` runs (not for build). Emits
// activate start/progress/ok|fail events for `node`. Returns true on success.
bool activate_here(const ActivationRequest& request, const NixCli& nix, EventWriter& events);

// True when `path` is a plain store path under /nix/store: no '..', no trailing components.
bool is_store_path(const std::string& path);

}  // namespace fleet::builder
