// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/age/codec.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fleet::age {

enum class KeyKind { x25519, ssh_ed25519 };

// Someone a file can be encrypted to: an X25519 key (`age1…`) or an OpenSSH ed25519 public
// key (`ssh-ed25519 AAAA… [comment]`).
struct Recipient {
  KeyKind kind = KeyKind::x25519;
  Bytes public_key;   // 32 bytes: the X25519 share, or the ed25519 key
  Bytes ssh_blob;     // ssh-ed25519 only: the SSH wire form of the public key
  std::string text;   // canonical text form: "age1…" or "ssh-ed25519 AAAA…" without comment

  // The stanza tag age writes for an ssh-ed25519 recipient (base64 of SHA-256(blob)[:4]);
  // empty for X25519, whose stanzas cannot be matched to a recipient without its secret key.
  std::string ssh_tag() const;
};

// A key that can open files: an age X25519 secret key, or an OpenSSH ed25519 private key,
// which opens both ssh-ed25519 stanzas (agenix) and X25519 stanzas made for its ssh-to-age
// conversion (sops-nix).
struct Identity {
  KeyKind kind = KeyKind::x25519;
  Bytes x25519_secret;  // 32 bytes; for ssh keys the converted (clamped) X25519 scalar
  Bytes ssh_blob;       // ssh-ed25519 only
  Bytes ed25519_public; // ssh-ed25519 only

  Identity() = default;
  Identity(const Identity&) = default;
  Identity& operator=(const Identity&) = default;
  ~Identity();

  // The matching recipient (for ssh keys the ssh-ed25519 one).
  Recipient recipient() const;
};

// Parses one recipient; throws fleet::Error saying what is wrong and which forms are accepted.
Recipient parse_recipient(std::string_view text);

// Parses an identity file: an age key file (`AGE-SECRET-KEY-1…` lines; `#` comments and blank
// lines ignored) or an unencrypted OpenSSH ed25519 private key. `what` names the source in
// errors (a path). Throws fleet::Error for anything else, including passphrase-protected keys.
std::vector<Identity> parse_identities(std::string_view text, const std::string& what);

// Reads and parses the identity file at `path` as parse_identities() does, leaving no copy of
// the key in memory: the file is read into one buffer that never grows, wiped after parsing.
// Returns nothing when `path` does not exist; throws fleet::Error when it cannot be read, is
// larger than 1 MiB, or does not parse.
std::optional<std::vector<Identity>> read_identity_file(const std::filesystem::path& path);

// A fresh X25519 identity.
Identity generate_x25519();

// The `AGE-SECRET-KEY-1…` form of an X25519 identity.
std::string identity_to_string(const Identity& identity);

// The X25519 recipient (`age1…`) that an ssh-ed25519 public key converts to, as ssh-to-age
// does for sops-nix; its holder decrypts such files with the ssh private key.
Recipient ssh_to_x25519(const Recipient& ssh_recipient);

}  // namespace fleet::age
