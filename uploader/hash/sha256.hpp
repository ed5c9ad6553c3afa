// SPDX-License-Identifier: MIT
#pragma once

#include <sodium.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace fleet::hash {

// Incremental SHA-256 (libsodium). Feed bytes with update(), then read the digest once with
// hex_digest(); the object must not be updated after that.
class Sha256 {
public:
  Sha256();

  // Adds `size` bytes at `data` to the hashed stream.
  void update(const void* data, std::size_t size);

  // Returns the digest of everything fed so far as 64 lowercase hex digits.
  std::string hex_digest();

private:
  crypto_hash_sha256_state m_state;
};

// SHA-256 of `data` as 64 lowercase hex digits.
std::string sha256_hex(std::string_view data);

// Initialises libsodium once per process (thread-safe); throws fleet::Error when it cannot.
void ensure_sodium();

}  // namespace fleet::hash
