// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/protocol/job_secret.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace fleet::builder::secrets {

// One secret on its way to a target: its spec and its age ciphertext, never plaintext.
struct SecretPayload {
  protocol::JobSecret spec;
  std::string ciphertext;

  bool operator==(const SecretPayload&) const = default;
};

// Everything a target needs to install one node's secrets; what travels on the activation's
// stdin and what the target keeps for `fleet-builder secrets restore`.
struct SecretBundle {
  std::string node;
  std::vector<SecretPayload> secrets;

  bool operator==(const SecretBundle&) const = default;
};

// Reads each secret's ciphertext from the unpacked source at `source_root`. Throws
// fleet::NodeError naming the file when one is missing, unreadable or not inside the source.
SecretBundle load_bundle(const std::string& node, const std::vector<protocol::JobSecret>& specs,
                         const std::filesystem::path& source_root);

// The bundle as JSON: {"node":…, "secrets":[{spec…, "ciphertext": base64}]}.
nlohmann::json to_json(const SecretBundle& bundle);

// Validates a bundle from the other side (or from disk). Throws ProtocolError.
SecretBundle parse_bundle(const nlohmann::json& json);

}  // namespace fleet::builder::secrets
