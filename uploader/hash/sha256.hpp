// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace fleet::hash {

struct EvpMdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const noexcept;
};

// Incremental SHA-256 (OpenSSL libcrypto, which uses the CPU's SHA extensions where present).
// Feed bytes with update(), then read the digest once with hex_digest(); the object must not be
// updated after that. Throws fleet::Error when libcrypto fails.
class Sha256 {
public:
  Sha256();

  // Adds `size` bytes at `data` to the hashed stream.
  void update(const void* data, std::size_t size);

  // Returns the digest of everything fed so far as 64 lowercase hex digits.
  std::string hex_digest();

private:
  std::unique_ptr<EVP_MD_CTX, EvpMdCtxFree> m_ctx;
};

// SHA-256 of `data` as 64 lowercase hex digits.
std::string sha256_hex(std::string_view data);

// Initialises libsodium once per process (thread-safe); throws fleet::Error when it cannot.
void ensure_sodium();

}  // namespace fleet::hash
