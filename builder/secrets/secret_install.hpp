// SPDX-License-Identifier: MIT
#pragma once

#include "builder/event_writer.hpp"
#include "builder/secrets/secret_bundle.hpp"

#include <filesystem>

namespace fleet::builder::secrets {

inline constexpr const char* k_default_host_key = "/etc/ssh/ssh_host_ed25519_key";

// Where a target finds its identity and keeps its ciphertexts.
struct SecretOptions {
  std::filesystem::path host_key = k_default_host_key;  // OpenSSH ed25519 key or age key file
  std::filesystem::path keep_dir;                        // <state dir>/secrets; one 0700 dir per node
};

// Before activation, on the target: keeps the bundle's ciphertexts under keep_dir/<node>/ (for
// restore) and installs every pre-activation secret. Emits `secrets` events naming each
// failure. Returns false when a required secret failed: the node must not be activated.
bool pre_activation(const SecretBundle& bundle, const SecretOptions& options, EventWriter& events);

// After a successful activation: installs the post-activation secrets. Returns false when a
// required one failed.
bool post_activation(const SecretBundle& bundle, const SecretOptions& options, EventWriter& events);

// `fleet-builder secrets restore`: re-installs every kept secret of every node (at boot, when
// /run/keys is empty again). Returns false when any required secret failed.
bool restore(const SecretOptions& options, EventWriter& events);

}  // namespace fleet::builder::secrets
