// SPDX-License-Identifier: MIT
#include "uploader/age/age.hpp"

#include "uploader/base/error.hpp"
#include "uploader/hash/sha256.hpp"
#include "uploader/age/armor.hpp"
#include "uploader/age/header.hpp"
#include "uploader/age/payload.hpp"
#include "uploader/age/stanza.hpp"

#include <sodium.h>

#include <algorithm>

namespace fleet::age {
namespace {

Bytes binary_form(std::string_view file) {
  return is_armored(file) ? dearmor(file) : Bytes(file);
}

}  // namespace

Bytes encrypt(std::string_view plaintext, const std::vector<Recipient>& recipients, bool armored) {
  hash::ensure_sodium();
  if (recipients.empty()) {
    throw Error("cannot encrypt to nobody: give at least one recipient");
  }
  Bytes file_key(16, '\0');
  randombytes_buf(file_key.data(), file_key.size());
  std::vector<Stanza> stanzas;
  for (const auto& recipient : recipients) {
    stanzas.push_back(wrap_file_key(file_key, recipient));
  }
  Bytes out = header_without_mac(stanzas);
  out += " " + base64_encode_raw(header_mac(file_key, out)) + "\n";
  out += encrypt_payload(file_key, plaintext);
  sodium_memzero(file_key.data(), file_key.size());
  return armored ? armor(out) : out;
}

Bytes decrypt(std::string_view file, const std::vector<Identity>& identities) {
  hash::ensure_sodium();
  Bytes binary = binary_form(file);
  Header header = parse_header(binary);
  for (const auto& stanza : header.stanzas) {
    if (stanza.type == "scrypt") {
      throw Error("the age file is encrypted with a passphrase, which fleet does not support; re-encrypt it to keys");
    }
  }
  std::optional<Bytes> file_key;
  for (const auto& stanza : header.stanzas) {
    for (const auto& identity : identities) {
      file_key = unwrap_file_key(stanza, identity);
      if (file_key) {
        break;
      }
    }
    if (file_key) {
      break;
    }
  }
  if (!file_key) {
    // A file with none of the stanza types fleet reads was made for keys fleet cannot hold (age's
    // post-quantum mlkem768x25519, a plugin): say so rather than blame the user's keys.
    bool readable = std::any_of(header.stanzas.begin(), header.stanzas.end(),
                                [](const Stanza& stanza) { return is_readable_stanza_type(stanza.type); });
    if (!readable && !header.stanzas.empty()) {
      std::string types;
      for (const auto& stanza : header.stanzas) {
        types += (types.empty() ? "" : ", ") + stanza.type;
      }
      throw Error("this age file is encrypted to recipients of type " + types +
                  ", which fleet does not support (it reads X25519 and ssh-ed25519); encrypt the plaintext again with "
                  "fleet secrets encrypt");
    }
    throw Error("no identity opens this age file: it was not encrypted to the given key(s)");
  }
  Bytes mac = header_mac(*file_key, header.mac_input);
  if (mac.size() != header.mac.size() || sodium_memcmp(mac.data(), header.mac.data(), mac.size()) != 0) {
    sodium_memzero(file_key->data(), file_key->size());
    throw Error("the age file's header was tampered with or is corrupt (header MAC mismatch)");
  }
  auto payload = std::string_view(binary).substr(header.payload_offset);
  Bytes plaintext;
  try {
    plaintext = decrypt_payload(*file_key, payload);
  } catch (...) {
    sodium_memzero(file_key->data(), file_key->size());
    throw;
  }
  sodium_memzero(file_key->data(), file_key->size());
  return plaintext;
}

std::vector<StanzaInfo> inspect(std::string_view file) {
  Bytes binary = binary_form(file);
  std::vector<StanzaInfo> out;
  for (const auto& stanza : parse_header(binary).stanzas) {
    StanzaInfo info{stanza.type, {}};
    if (stanza.type == k_ssh_ed25519_stanza && !stanza.args.empty()) {
      info.ssh_tag = stanza.args[0];
    }
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace fleet::age
