// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/config/fleet_config.hpp"
#include "uploader/age/age.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace fleet::coordinator {

// Whether a secret file's stanzas match its current recipients.
enum class SecretState {
  up_to_date,  // every expected recipient has a stanza and there is no other
  out_of_date, // ssh-ed25519 tags or the number of stanzas differ: needs `fleet secrets rekey`
  unknown,     // ssh-ed25519 tags match, but X25519 stanzas cannot be matched without their keys
  missing,     // the file does not exist
};

std::string to_string(SecretState state);

// One encrypted file and who must be able to read it.
struct SecretFile {
  std::filesystem::path path;               // absolute
  std::vector<std::string> nodes;           // nodes whose `secrets` reference it
  std::vector<age::Recipient> recipients;   // those nodes' hostKeys, then admins, without duplicates
};

// The recipients for `nodes`: each one's hostKey, then every admin. Throws ConfigError naming
// a node without hostKey (with how to get it) or a key that is not ssh-ed25519.
std::vector<age::Recipient> recipients_for(const FleetConfig& config, const std::vector<std::string>& nodes);

// Every file referenced by a node's `secrets`, sorted by path, with its recipients.
std::vector<SecretFile> secret_files(const FleetConfig& config);

// Compares the stanzas of the age file `content` with `recipients`.
SecretState secret_state(std::string_view content, const std::vector<age::Recipient>& recipients);

}  // namespace fleet::coordinator
