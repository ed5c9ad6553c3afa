// SPDX-License-Identifier: MIT
#include "uploader/age/payload.hpp"

#include "uploader/base/error.hpp"
#include "uploader/age/hkdf.hpp"

#include <sodium.h>

#include <array>
#include <cstdint>

namespace fleet::age {
namespace {

constexpr std::size_t k_nonce_size = 16;
constexpr std::size_t k_chunk = 64 * 1024;
constexpr std::size_t k_tag = crypto_aead_chacha20poly1305_ietf_ABYTES;

using ChunkNonce = std::array<unsigned char, crypto_aead_chacha20poly1305_ietf_NPUBBYTES>;

ChunkNonce chunk_nonce(std::uint64_t counter, bool last) {
  ChunkNonce nonce{};
  for (int i = 10; i >= 0 && counter != 0; --i) {
    nonce[static_cast<std::size_t>(i)] = static_cast<unsigned char>(counter & 0xff);
    counter >>= 8;
  }
  nonce[11] = last ? 1 : 0;
  return nonce;
}

// Wipes the payload key when it goes out of scope, whatever path the code takes.
struct PayloadKey {
  Bytes key;
  ~PayloadKey() { sodium_memzero(key.data(), key.size()); }
  const unsigned char* data() const { return reinterpret_cast<const unsigned char*>(key.data()); }
};

}  // namespace

Bytes encrypt_payload(std::string_view file_key, std::string_view plaintext) {
  Bytes out(k_nonce_size, '\0');
  randombytes_buf(out.data(), out.size());
  PayloadKey key{hkdf_sha256(file_key, out, "payload", 32)};
  std::size_t chunks = plaintext.empty() ? 1 : (plaintext.size() + k_chunk - 1) / k_chunk;
  out.reserve(k_nonce_size + plaintext.size() + chunks * k_tag);
  for (std::size_t i = 0; i < chunks; ++i) {
    auto piece = plaintext.substr(i * k_chunk, k_chunk);
    auto nonce = chunk_nonce(i, i + 1 == chunks);
    std::size_t offset = out.size();
    out.resize(offset + piece.size() + k_tag);
    unsigned long long written = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(reinterpret_cast<unsigned char*>(out.data() + offset), &written,
                                              reinterpret_cast<const unsigned char*>(piece.data()), piece.size(),
                                              nullptr, 0, nullptr, nonce.data(), key.data());
  }
  return out;
}

Bytes decrypt_payload(std::string_view file_key, std::string_view payload) {
  if (payload.size() < k_nonce_size) {
    throw Error("the age file is truncated: its payload nonce is missing");
  }
  PayloadKey key{hkdf_sha256(file_key, payload.substr(0, k_nonce_size), "payload", 32)};
  auto body = payload.substr(k_nonce_size);
  if (body.empty()) {
    throw Error("the age file is truncated: it has no payload chunk");
  }
  constexpr std::size_t k_sealed = k_chunk + k_tag;
  std::size_t chunks = (body.size() + k_sealed - 1) / k_sealed;
  Bytes plaintext;
  plaintext.reserve(body.size());
  // Whatever was decrypted is wiped if a later chunk fails, so no partial plaintext survives.
  struct Wipe {
    Bytes& bytes;
    bool armed = true;
    ~Wipe() {
      if (armed) {
        sodium_memzero(bytes.data(), bytes.size());
      }
    }
  } wipe{plaintext};
  for (std::size_t i = 0; i < chunks; ++i) {
    auto sealed = body.substr(i * k_sealed, k_sealed);
    bool last = i + 1 == chunks;
    if (sealed.size() < k_tag || (last && sealed.size() == k_tag && chunks > 1)) {
      throw Error("the age file is truncated or corrupt: chunk " + std::to_string(i) + " is too short");
    }
    auto nonce = chunk_nonce(i, last);
    std::size_t offset = plaintext.size();
    plaintext.resize(offset + sealed.size() - k_tag);
    unsigned long long written = 0;
    if (crypto_aead_chacha20poly1305_ietf_decrypt(reinterpret_cast<unsigned char*>(plaintext.data() + offset),
                                                  &written, nullptr,
                                                  reinterpret_cast<const unsigned char*>(sealed.data()), sealed.size(),
                                                  nullptr, 0, nonce.data(), key.data()) != 0) {
      throw Error("the age file is corrupt, truncated or tampered with: payload chunk " + std::to_string(i) +
                  " does not authenticate");
    }
  }
  wipe.armed = false;
  return plaintext;
}

}  // namespace fleet::age
