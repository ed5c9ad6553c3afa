// SPDX-License-Identifier: MIT
#pragma once

#include "builder/event_writer.hpp"
#include "builder/nix_cli.hpp"
#include "builder/activation/target_lock.hpp"
#include "builder/secrets/secret_bundle.hpp"
#include "uploader/protocol/action.hpp"
#include "uploader/protocol/activation_spec.hpp"
#include "uploader/protocol/job.hpp"

#include <filesystem>
#include <string>

namespace fleet::builder {

// What to activate on this host: a system closure already in the local store.
struct ActivationRequest {
  std::string node;
  std::string store_path;  // /nix/store/…-nixos-system-…
  protocol::Action action = protocol::Action::switch_;
  protocol::ActivationSpec spec;
  int timeout_seconds = protocol::k_default_activate_timeout;  // switch-to-configuration is killed after this long
  std::string run_id;            // the run that asks, for the target lock's holder file
  std::string deployer;          // user@host of whoever runs it
  secrets::SecretBundle secrets;  // ciphertexts; the root supervisor decrypts and installs them
  std::string host_key;           // the identity that decrypts them; empty: the default
};

inline constexpr const char* k_system_profile = "/nix/var/nix/profiles/system";
inline constexpr const char* k_current_system = "/run/current-system";

// Activates a closure on this host the way nixos-rebuild would, made safe, without privileges
// of its own: it refuses at once when another activation holds the target (naming it) or the
// switch inhibitors forbid switching now, records the activation (the previous generation, the
// secrets as ciphertext), then starts the root supervisor (activation/supervisor.hpp) that
// does the rest. Its events are relayed to `events` as they happen; the first carries
// {"activation": id} so a deployer that loses its connection can `attach` again. Returns "ok",
// "failed" or "rolled-back". `build` activates nothing.
std::string activate_here(const ActivationRequest& request, const NixCli& nix, const std::filesystem::path& state_dir,
                          EventWriter& events, const TargetLock& lock = TargetLock());

// True when `path` is a plain store path under /nix/store: no '..', no trailing components.
bool is_store_path(const std::string& path);

}  // namespace fleet::builder
