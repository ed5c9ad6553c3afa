// SPDX-License-Identifier: MIT
#include "uploader/hash/sha256.hpp"

#include "uploader/base/error.hpp"

#include <openssl/evp.h>
#include <sodium.h>

namespace fleet::hash {

void ensure_sodium() {
  // sodium_init() is itself idempotent and thread-safe; caching the result avoids the lock.
  static const int result = sodium_init();
  if (result < 0) {
    throw Error("libsodium failed to initialise (sodium_init returned " + std::to_string(result) + ")");
  }
}

void EvpMdCtxFree::operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }

// libsodium's portable SHA-256 runs at about a tenth of libcrypto's speed on CPUs with SHA
// extensions, and hashing every packed byte made packing slower than tar | zstd.
Sha256::Sha256() : m_ctx(EVP_MD_CTX_new()) {
  if (!m_ctx || EVP_DigestInit_ex(m_ctx.get(), EVP_sha256(), nullptr) != 1) {
    throw Error("libcrypto cannot start a SHA-256 digest (out of memory, or OpenSSL misconfigured?)");
  }
}

void Sha256::update(const void* data, std::size_t size) {
  if (EVP_DigestUpdate(m_ctx.get(), data, size) != 1) {
    throw Error("libcrypto SHA-256 update failed");
  }
}

std::string Sha256::hex_digest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(m_ctx.get(), digest, &length) != 1 || length != 32) {
    throw Error("libcrypto SHA-256 finalisation failed");
  }
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string hex(length * 2, '\0');
  for (unsigned int i = 0; i < length; ++i) {
    hex[2 * i] = k_digits[digest[i] >> 4];
    hex[2 * i + 1] = k_digits[digest[i] & 0x0f];
  }
  return hex;
}

std::string sha256_hex(std::string_view data) {
  Sha256 hasher;
  hasher.update(data.data(), data.size());
  return hasher.hex_digest();
}

}  // namespace fleet::hash
