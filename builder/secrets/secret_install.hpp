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
  std::filesystem::path keep_dir;                        // <state dir>/secrets, 0700
};

// Installs the secrets of `bundle` whose `when` is `when` ("pre-activation",
// "post-activation"; every one when empty), decrypting each with options.host_key. Emits
// `secrets` events naming each failure; one failure never stops the others. Returns false when
// a required secret failed. Needs root for the owners it sets.
bool install_secrets(const SecretBundle& bundle, const std::string& when, const SecretOptions& options,
                     EventWriter& events);

// What agents before per-generation secrets kept: keep_dir/<node>/secrets.json, one bundle per
// node. Re-installs each (the fallback of `secrets restore` when no generation's bundle is
// kept). Returns false when any required secret failed.
bool restore_per_node(const SecretOptions& options, EventWriter& events);

}  // namespace fleet::builder::secrets
