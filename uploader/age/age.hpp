// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/age/codec.hpp"
#include "uploader/age/keys.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace fleet::age {

// Encrypts `plaintext` to every recipient as an age v1 file (binary, or ASCII-armored when
// `armored`). Output is randomized: encrypting twice never gives the same bytes. Throws
// fleet::Error when there is no recipient.
Bytes encrypt(std::string_view plaintext, const std::vector<Recipient>& recipients, bool armored = false);

// Decrypts an age file (binary or armored) with the first identity that opens a stanza, then
// checks the header MAC and every payload chunk before returning the plaintext. Throws
// fleet::Error saying why (not an age file, no identity matches, tampered header or payload,
// truncated) and never returns partial plaintext.
Bytes decrypt(std::string_view file, const std::vector<Identity>& identities);

// What a file's header says about its recipients, readable without any key.
struct StanzaInfo {
  std::string type;     // "X25519", "ssh-ed25519", "scrypt", or an unknown type
  std::string ssh_tag;  // ssh-ed25519: the tag that names the recipient key
};

// Lists the stanzas of an age file (binary or armored). Throws fleet::Error for a malformed
// header; does not check the MAC, which needs the file key.
std::vector<StanzaInfo> inspect(std::string_view file);

}  // namespace fleet::age
