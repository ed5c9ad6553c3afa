// SPDX-License-Identifier: MIT
#include "uploader/ssh/ssh_handles.hpp"

#include <string>

namespace fleet::ssh::detail {

std::string last_error(ssh_session session) {
  const char* text = session != nullptr ? ssh_get_error(session) : nullptr;
  if (text == nullptr || *text == '\0') {
    return "unknown error";
  }
  return text;
}

void check(ssh_session session, int rc, SshFailure kind, std::string_view what, std::string_view where) {
  if (rc == SSH_OK) {
    return;
  }
  throw SshError(kind, std::string(what) + " for " + std::string(where) + ": " + last_error(session));
}

KeyHandle parse_public_key(std::string_view line, std::string_view field) {
  auto fail = [&](const std::string& why) -> KeyHandle {
    throw fleet::ConfigError(std::string(field) + " '" + std::string(line) + "' " + why +
                             "; expected \"<type> <base64>\" as in a .pub file, e.g. \"ssh-ed25519 AAAA…\"");
  };
  auto space = line.find(' ');
  if (space == std::string_view::npos || space == 0) {
    return fail("has no key type");
  }
  std::string type(line.substr(0, space));
  std::string_view rest = line.substr(space + 1);
  std::string base64(rest.substr(0, rest.find(' ')));
  if (base64.empty()) {
    return fail("has no base64 key");
  }
  enum ssh_keytypes_e key_type = ssh_key_type_from_name(type.c_str());
  if (key_type == SSH_KEYTYPE_UNKNOWN) {
    return fail("has an unknown key type '" + type + "'");
  }
  ssh_key key = nullptr;
  if (ssh_pki_import_pubkey_base64(base64.c_str(), key_type, &key) != SSH_OK || key == nullptr) {
    return fail("is not a valid " + type + " public key");
  }
  return KeyHandle(key);
}

std::string fingerprint_of(ssh_key key) {
  unsigned char* hash = nullptr;
  size_t length = 0;
  if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &length) != SSH_OK) {
    return "SHA256:?";
  }
  CString text(ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, length));
  ssh_clean_pubkey_hash(&hash);
  return text ? std::string(text.get()) : std::string("SHA256:?");
}

std::string openssh_line_of(ssh_key key) {
  char* base64 = nullptr;
  if (ssh_pki_export_pubkey_base64(key, &base64) != SSH_OK || base64 == nullptr) {
    return "?";
  }
  CString owned(base64);
  const char* type = ssh_key_type_to_char(ssh_key_type(key));
  return std::string(type != nullptr ? type : "?") + " " + owned.get();
}

}  // namespace fleet::ssh::detail
