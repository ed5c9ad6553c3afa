// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/age/codec.hpp"

#include <string_view>

namespace fleet::age {

// Encrypts `plaintext` as an age payload: a fresh 16-byte nonce, then STREAM chunks of 64 KiB
// (ChaCha20-Poly1305 under HKDF(file_key, nonce, "payload")), the last one flagged final.
Bytes encrypt_payload(std::string_view file_key, std::string_view plaintext);

// Decrypts a whole payload in memory and returns the plaintext only once every chunk, the
// final one included, has authenticated. Throws fleet::Error for a truncated, extended or
// tampered payload; nothing of the plaintext escapes then.
Bytes decrypt_payload(std::string_view file_key, std::string_view payload);

}  // namespace fleet::age
