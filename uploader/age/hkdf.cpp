// SPDX-License-Identifier: MIT
#include "uploader/age/hkdf.hpp"

#include "uploader/base/error.hpp"
#include "uploader/hash/sha256.hpp"

#include <sodium.h>

#include <algorithm>

namespace fleet::age {
namespace {

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

Bytes hmac_sha256(std::string_view key, std::string_view data) {
  hash::ensure_sodium();
  crypto_auth_hmacsha256_state state;
  // An empty key is the same as 32 zero bytes for HMAC, which is what HKDF's empty salt means.
  crypto_auth_hmacsha256_init(&state, bytes(key), key.size());
  crypto_auth_hmacsha256_update(&state, bytes(data), data.size());
  Bytes out(crypto_auth_hmacsha256_BYTES, '\0');
  crypto_auth_hmacsha256_final(&state, reinterpret_cast<unsigned char*>(out.data()));
  sodium_memzero(&state, sizeof state);
  return out;
}

Bytes hkdf_sha256(std::string_view ikm, std::string_view salt, std::string_view info, std::size_t length) {
  if (length > 255 * 32) {
    throw Error("HKDF-SHA256 cannot produce " + std::to_string(length) + " bytes");
  }
  Bytes prk = hmac_sha256(salt, ikm);
  Bytes out;
  Bytes block;
  for (unsigned char counter = 1; out.size() < length; ++counter) {
    Bytes input = block;
    input.append(info);
    input.push_back(static_cast<char>(counter));
    block = hmac_sha256(prk, input);
    sodium_memzero(input.data(), input.size());
    out.append(block.substr(0, std::min<std::size_t>(block.size(), length - out.size())));
  }
  sodium_memzero(prk.data(), prk.size());
  sodium_memzero(block.data(), block.size());
  return out;
}

}  // namespace fleet::age
