// SPDX-License-Identifier: MIT
#include "uploader/age/ssh_key.hpp"

#include "uploader/base/error.hpp"

#include <sodium.h>

namespace fleet::age {
namespace {

constexpr std::string_view k_begin = "-----BEGIN OPENSSH PRIVATE KEY-----";
constexpr std::string_view k_end = "-----END OPENSSH PRIVATE KEY-----";
constexpr std::string_view k_magic{"openssh-key-v1\0", 15};

}  // namespace

bool is_openssh_private_key(std::string_view text) {
  return text.find(k_begin) != std::string_view::npos;
}

Bytes ssh_ed25519_blob(std::string_view public_key) {
  Bytes blob;
  put_wire_string(blob, "ssh-ed25519");
  put_wire_string(blob, public_key);
  return blob;
}

SshEd25519Key parse_openssh_private_key(std::string_view text, const std::string& what) {
  auto begin = text.find(k_begin);
  auto end = text.find(k_end);
  if (begin == std::string_view::npos || end == std::string_view::npos || end < begin) {
    throw Error(what + " is not an OpenSSH private key (no BEGIN/END OPENSSH PRIVATE KEY lines)");
  }
  std::string b64;
  for (char c : text.substr(begin + k_begin.size(), end - begin - k_begin.size())) {
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') {
      b64.push_back(c);
    }
  }
  Bytes data = base64_decode_padded(b64, what);
  std::string where = what + " (openssh-key-v1)";
  WireReader r(data, where);
  if (r.raw(k_magic.size()) != k_magic) {
    throw Error(what + " is not in the openssh-key-v1 format");
  }
  auto cipher = r.string();
  auto kdf = r.string();
  r.string();  // kdf options
  if (cipher != "none" || kdf != "none") {
    throw Error(what + " is protected by a passphrase, which fleet cannot use; use a key without one (host keys "
                       "have none) or decrypt a copy with `ssh-keygen -p -N '' -f COPY`");
  }
  if (r.u32() != 1) {
    throw Error(what + " holds more than one key; give a file with one ed25519 key");
  }
  r.string();  // public key, repeated inside the private section
  WireReader priv(r.string(), where);
  if (priv.u32() != priv.u32()) {
    throw Error(what + " is corrupt (check words differ)");
  }
  auto type = priv.string();
  if (type != "ssh-ed25519") {
    throw Error(what + " is a " + std::string(type) + " key; fleet's age supports ssh-ed25519 keys only");
  }
  SshEd25519Key key;
  key.public_key = Bytes(priv.string());
  key.secret_key = Bytes(priv.string());
  if (key.public_key.size() != crypto_sign_PUBLICKEYBYTES || key.secret_key.size() != crypto_sign_SECRETKEYBYTES ||
      key.secret_key.compare(32, 32, key.public_key) != 0) {
    throw Error(what + " has a malformed ed25519 key");
  }
  key.blob = ssh_ed25519_blob(key.public_key);
  sodium_memzero(data.data(), data.size());
  return key;
}

}  // namespace fleet::age
