// SPDX-License-Identifier: MIT
#include "uploader/age/keys.hpp"

#include "uploader/base/error.hpp"
#include "uploader/hash/sha256.hpp"
#include "uploader/age/bech32.hpp"
#include "uploader/age/ssh_key.hpp"
#include "uploader/base/file_io.hpp"
#include "uploader/base/unique_fd.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <sstream>

namespace fleet::age {
namespace {

constexpr const char* k_recipient_hrp = "age";
constexpr const char* k_identity_hrp = "age-secret-key-";

unsigned char* u8(Bytes& b) {
  return reinterpret_cast<unsigned char*>(b.data());
}
const unsigned char* u8(const Bytes& b) {
  return reinterpret_cast<const unsigned char*>(b.data());
}

Identity x25519_identity(Bytes secret) {
  Identity id;
  id.kind = KeyKind::x25519;
  id.x25519_secret = std::move(secret);
  return id;
}

}  // namespace

std::string Recipient::ssh_tag() const {
  if (kind != KeyKind::ssh_ed25519) {
    return {};
  }
  Bytes digest(crypto_hash_sha256_BYTES, '\0');
  crypto_hash_sha256(u8(digest), u8(ssh_blob), ssh_blob.size());
  return base64_encode_raw(std::string_view(digest).substr(0, 4));
}

Identity::~Identity() {
  sodium_memzero(x25519_secret.data(), x25519_secret.size());
}

Recipient Identity::recipient() const {
  Recipient r;
  r.kind = kind;
  if (kind == KeyKind::ssh_ed25519) {
    r.public_key = ed25519_public;
    r.ssh_blob = ssh_blob;
    r.text = "ssh-ed25519 " + base64_encode_padded(ssh_blob);
    return r;
  }
  r.public_key.assign(crypto_scalarmult_BYTES, '\0');
  crypto_scalarmult_base(u8(r.public_key), u8(x25519_secret));
  r.text = bech32_encode(k_recipient_hrp, r.public_key);
  return r;
}

Recipient parse_recipient(std::string_view text) {
  hash::ensure_sodium();
  std::string quoted = "recipient '" + std::string(text) + "'";
  Recipient r;
  if (text.rfind("age1", 0) == 0) {
    auto decoded = bech32_decode(text, quoted);
    if (decoded.hrp != k_recipient_hrp || decoded.data.size() != 32 || text != bech32_encode("age", decoded.data)) {
      throw Error(quoted + " is not an X25519 age recipient (age1… with 32 bytes, lowercase)");
    }
    r.kind = KeyKind::x25519;
    r.public_key = decoded.data;
    r.text = std::string(text);
    return r;
  }
  if (text.rfind("ssh-ed25519 ", 0) == 0) {
    std::string_view rest = text.substr(12);
    auto space = rest.find(' ');
    auto b64 = rest.substr(0, space);
    Bytes blob = base64_decode_padded(b64, quoted);
    WireReader reader(blob, quoted);
    if (reader.string() != "ssh-ed25519") {
      throw Error(quoted + " has a key blob that is not ssh-ed25519");
    }
    r.public_key = Bytes(reader.string());
    if (r.public_key.size() != 32 || !reader.at_end()) {
      throw Error(quoted + " has a malformed ssh-ed25519 key");
    }
    r.kind = KeyKind::ssh_ed25519;
    r.ssh_blob = blob;
    r.text = "ssh-ed25519 " + std::string(b64);
    return r;
  }
  if (text.rfind("ssh-", 0) == 0 || text.rfind("ecdsa-", 0) == 0) {
    throw Error(quoted + " is not an ssh-ed25519 key; fleet encrypts to ssh-ed25519 keys and age1… keys only");
  }
  throw Error(quoted + " is neither an age1… key nor an \"ssh-ed25519 AAAA…\" public key");
}

std::vector<Identity> parse_identities(std::string_view text, const std::string& what) {
  hash::ensure_sodium();
  std::vector<Identity> out;
  if (is_openssh_private_key(text)) {
    auto key = parse_openssh_private_key(text, what);
    Identity id;
    id.kind = KeyKind::ssh_ed25519;
    id.x25519_secret.assign(crypto_scalarmult_BYTES, '\0');
    crypto_sign_ed25519_sk_to_curve25519(u8(id.x25519_secret), u8(key.secret_key));
    id.ssh_blob = key.blob;
    id.ed25519_public = key.public_key;
    sodium_memzero(key.secret_key.data(), key.secret_key.size());
    out.push_back(std::move(id));
    return out;
  }
  std::istringstream lines{std::string(text)};
  std::string line;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    if (line.empty() || line.front() == '#') {
      continue;
    }
    std::string where = what + " line " + std::to_string(number);
    if (line.rfind("AGE-SECRET-KEY-1", 0) != 0) {
      throw Error(where + " is not an age identity (AGE-SECRET-KEY-1…) or a comment; give an age key file "
                          "(age-keygen) or an unencrypted OpenSSH ed25519 private key");
    }
    auto decoded = bech32_decode(line, where);
    if (decoded.hrp != k_identity_hrp || decoded.data.size() != 32) {
      throw Error(where + " is not an X25519 age identity");
    }
    out.push_back(x25519_identity(std::move(decoded.data)));
    sodium_memzero(line.data(), line.size());
  }
  if (out.empty()) {
    throw Error(what + " holds no identity; give an age key file (age-keygen) or an OpenSSH ed25519 private key");
  }
  return out;
}

Identity generate_x25519() {
  hash::ensure_sodium();
  Bytes secret(crypto_scalarmult_SCALARBYTES, '\0');
  randombytes_buf(secret.data(), secret.size());
  return x25519_identity(std::move(secret));
}

std::string identity_to_string(const Identity& identity) {
  std::string s = bech32_encode(k_identity_hrp, identity.x25519_secret);
  for (auto& c : s) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return s;
}

Recipient ssh_to_x25519(const Recipient& ssh_recipient) {
  Recipient r;
  r.kind = KeyKind::x25519;
  r.public_key.assign(crypto_scalarmult_BYTES, '\0');
  if (crypto_sign_ed25519_pk_to_curve25519(u8(r.public_key), u8(ssh_recipient.public_key)) != 0) {
    throw Error("the ed25519 key " + ssh_recipient.text + " has no X25519 form");
  }
  r.text = bech32_encode(k_recipient_hrp, r.public_key);
  return r;
}

std::optional<std::vector<Identity>> read_identity_file(const std::filesystem::path& path) {
  constexpr std::size_t k_max_identity_file = 1 << 20;
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) {
      return std::nullopt;
    }
    throw Error("cannot read " + path.string() + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    throw Error("cannot read " + path.string() + ": not a regular file");
  }
  // One byte more than announced shows a file that grew; the buffer itself never moves.
  std::string text(std::min(static_cast<std::size_t>(st.st_size), k_max_identity_file) + 1, '\0');
  struct Wipe {
    std::string& bytes;
    ~Wipe() { sodium_memzero(bytes.data(), bytes.size()); }
  } wipe{text};
  const ssize_t n = read_fully(fd.get(), text.data(), text.size());
  if (n < 0) {
    throw Error("cannot read " + path.string() + ": " + std::strerror(errno));
  }
  const auto done = static_cast<std::size_t>(n);
  if (done == text.size()) {
    throw Error(path.string() + " is larger than " + std::to_string(text.size() - 1) +
                " bytes (or grew while it was read): not an identity file");
  }
  return parse_identities(std::string_view(text.data(), done), path.string());
}

}  // namespace fleet::age
