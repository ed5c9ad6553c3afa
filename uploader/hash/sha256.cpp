// SPDX-License-Identifier: MIT
#include "uploader/hash/sha256.hpp"

#include "uploader/base/error.hpp"

namespace fleet::hash {

void ensure_sodium() {
  // sodium_init() is itself idempotent and thread-safe; caching the result avoids the lock.
  static const int result = sodium_init();
  if (result < 0) {
    throw Error("libsodium failed to initialise (sodium_init returned " + std::to_string(result) + ")");
  }
}

Sha256::Sha256() {
  ensure_sodium();
  crypto_hash_sha256_init(&m_state);
}

void Sha256::update(const void* data, std::size_t size) {
  crypto_hash_sha256_update(&m_state, static_cast<const unsigned char*>(data), size);
}

std::string Sha256::hex_digest() {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&m_state, digest);
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return std::string(hex, crypto_hash_sha256_BYTES * 2);
}

std::string sha256_hex(std::string_view data) {
  Sha256 hasher;
  hasher.update(data.data(), data.size());
  return hasher.hex_digest();
}

}  // namespace fleet::hash
