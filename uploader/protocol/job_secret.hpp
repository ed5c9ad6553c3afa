// SPDX-License-Identifier: MIT
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace fleet::protocol {

// One age-encrypted secret a target installs: the ciphertext at `file` (relative to the source
// root) is decrypted on the target only, into `dest` with the given owner, group and mode.
struct JobSecret {
  std::string name;
  std::string file;     // relative to the unpacked source root
  std::string dest;     // absolute, outside /nix/store
  std::string owner = "root";
  std::string group = "root";
  std::string mode = "0400";          // octal, as a string
  std::string when = "pre-activation";  // or post-activation
  bool required = true;

  bool operator==(const JobSecret&) const = default;
};

nlohmann::json to_json(const JobSecret& secret);

// Validates one secret from the other side; `where` prefixes field names in errors. Throws
// ProtocolError for a missing or mistyped field, an unsafe name, owner or group, a file path
// that leaves the source, a dest that is relative, has `..` or lies in /nix/store, a mode that
// is not octal, or an unknown `when`.
JobSecret parse_job_secret(const nlohmann::json& json, const std::string& where);

// The numeric value of a validated octal mode ("0400" → 0400).
unsigned parse_octal_mode(const std::string& mode);

}  // namespace fleet::protocol
