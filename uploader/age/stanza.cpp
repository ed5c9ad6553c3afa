// SPDX-License-Identifier: MIT
#include "uploader/age/stanza.hpp"

#include "uploader/base/error.hpp"
#include "uploader/age/hkdf.hpp"

#include <sodium.h>

namespace fleet::age {
namespace {

constexpr const char* k_x25519_label = "age-encryption.org/v1/X25519";
constexpr const char* k_ssh_label = "age-encryption.org/v1/ssh-ed25519";
constexpr std::size_t k_file_key_size = 16;

unsigned char* u8(Bytes& b) {
  return reinterpret_cast<unsigned char*>(b.data());
}
const unsigned char* u8(std::string_view b) {
  return reinterpret_cast<const unsigned char*>(b.data());
}

// X25519 that refuses the all-zero result of a small-order point, as age requires.
Bytes x25519(std::string_view scalar, std::string_view point) {
  Bytes out(crypto_scalarmult_BYTES, '\0');
  if (point.size() != crypto_scalarmult_BYTES || crypto_scalarmult(u8(out), u8(scalar), u8(point)) != 0) {
    throw Error("the age file has an invalid X25519 share (a low-order point)");
  }
  return out;
}

Bytes aead_seal(std::string_view key, std::string_view plaintext) {
  unsigned char nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = {};
  Bytes out(plaintext.size() + crypto_aead_chacha20poly1305_ietf_ABYTES, '\0');
  unsigned long long written = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(u8(out), &written, u8(plaintext), plaintext.size(), nullptr, 0, nullptr,
                                            nonce, u8(key));
  return out;
}

std::optional<Bytes> aead_open(std::string_view key, std::string_view sealed) {
  unsigned char nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = {};
  Bytes out(k_file_key_size, '\0');
  unsigned long long written = 0;
  if (crypto_aead_chacha20poly1305_ietf_decrypt(u8(out), &written, nullptr, u8(sealed), sealed.size(), nullptr, 0,
                                                nonce, u8(key)) != 0) {
    return std::nullopt;
  }
  return out;
}

Bytes ssh_tweak(std::string_view blob) {
  return hkdf_sha256("", blob, k_ssh_label, 32);
}

Bytes montgomery(std::string_view ed25519_public) {
  Bytes out(crypto_scalarmult_BYTES, '\0');
  if (crypto_sign_ed25519_pk_to_curve25519(u8(out), u8(ed25519_public)) != 0) {
    throw Error("an ssh-ed25519 key has no X25519 form");
  }
  return out;
}

void check_shape(const Stanza& stanza, std::size_t args) {
  if (stanza.args.size() != args || stanza.body.size() != k_file_key_size + crypto_aead_chacha20poly1305_ietf_ABYTES) {
    throw Error("the age file has a malformed " + stanza.type + " stanza");
  }
}

}  // namespace

Stanza wrap_file_key(std::string_view file_key, const Recipient& recipient) {
  Bytes esk(crypto_scalarmult_SCALARBYTES, '\0');
  randombytes_buf(esk.data(), esk.size());
  Bytes epk(crypto_scalarmult_BYTES, '\0');
  crypto_scalarmult_base(u8(epk), u8(esk));
  Stanza stanza;
  Bytes shared;
  Bytes salt = epk;
  std::string label;
  if (recipient.kind == KeyKind::x25519) {
    shared = x25519(esk, recipient.public_key);
    salt += recipient.public_key;
    label = k_x25519_label;
    stanza.type = k_x25519_stanza;
    stanza.args = {base64_encode_raw(epk)};
  } else {
    Bytes point = montgomery(recipient.public_key);
    shared = x25519(ssh_tweak(recipient.ssh_blob), x25519(esk, point));
    salt += point;
    label = k_ssh_label;
    stanza.type = k_ssh_ed25519_stanza;
    stanza.args = {recipient.ssh_tag(), base64_encode_raw(epk)};
  }
  Bytes wrap_key = hkdf_sha256(shared, salt, label, 32);
  stanza.body = aead_seal(wrap_key, file_key);
  sodium_memzero(esk.data(), esk.size());
  sodium_memzero(shared.data(), shared.size());
  sodium_memzero(wrap_key.data(), wrap_key.size());
  return stanza;
}

bool is_readable_stanza_type(std::string_view type) {
  return type == k_x25519_stanza || type == k_ssh_ed25519_stanza;
}

std::optional<Bytes> unwrap_file_key(const Stanza& stanza, const Identity& identity) {
  Bytes shared;
  Bytes salt;
  std::string label;
  if (stanza.type == k_x25519_stanza) {
    // Both kinds of identity hold an X25519 scalar; for an ssh key it is the sops-nix
    // (ssh-to-age) conversion, so such files open with the host key too.
    check_shape(stanza, 1);
    Bytes epk = base64_decode_raw(stanza.args[0], "an X25519 stanza's share");
    if (epk.size() != crypto_scalarmult_BYTES) {
      throw Error("the age file has an X25519 stanza with a share of the wrong size");
    }
    Bytes own(crypto_scalarmult_BYTES, '\0');
    crypto_scalarmult_base(u8(own), u8(identity.x25519_secret));
    shared = x25519(identity.x25519_secret, epk);
    salt = epk + own;
    label = k_x25519_label;
  } else if (stanza.type == k_ssh_ed25519_stanza) {
    check_shape(stanza, 2);
    if (identity.kind != KeyKind::ssh_ed25519) {
      return std::nullopt;
    }
    if (stanza.args[0] != identity.recipient().ssh_tag()) {
      return std::nullopt;
    }
    Bytes epk = base64_decode_raw(stanza.args[1], "an ssh-ed25519 stanza's share");
    if (epk.size() != crypto_scalarmult_BYTES) {
      throw Error("the age file has an ssh-ed25519 stanza with a share of the wrong size");
    }
    shared = x25519(ssh_tweak(identity.ssh_blob), x25519(identity.x25519_secret, epk));
    salt = epk + montgomery(identity.ed25519_public);
    label = k_ssh_label;
  } else {
    return std::nullopt;
  }
  Bytes wrap_key = hkdf_sha256(shared, salt, label, 32);
  auto key = aead_open(wrap_key, stanza.body);
  sodium_memzero(shared.data(), shared.size());
  sodium_memzero(wrap_key.data(), wrap_key.size());
  return key;
}

}  // namespace fleet::age
