// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/age/codec.hpp"

#include <string>
#include <string_view>

namespace fleet::age {

// The parts of an unencrypted OpenSSH ed25519 private key that age needs.
struct SshEd25519Key {
  Bytes public_key;  // 32 bytes
  Bytes secret_key;  // 64 bytes: seed ‖ public key, libsodium's layout
  Bytes blob;        // SSH wire form of the public key
};

// True when `text` holds an OpenSSH private key PEM block.
bool is_openssh_private_key(std::string_view text);

// Parses an `openssh-key-v1` PEM private key. Throws fleet::Error naming `what` for
// passphrase-protected keys (with the fix), other key types and malformed data.
SshEd25519Key parse_openssh_private_key(std::string_view text, const std::string& what);

// Builds the SSH wire blob of an ed25519 public key.
Bytes ssh_ed25519_blob(std::string_view public_key);

}  // namespace fleet::age
