// SPDX-License-Identifier: MIT
#include "builder/secrets/secret_install.hpp"

#include "builder/secrets/secret_file.hpp"
#include "uploader/base/error.hpp"
#include "uploader/base/file_io.hpp"
#include "uploader/protocol/json_document.hpp"
#include "uploader/age/age.hpp"

#include <sodium.h>

#include <optional>

namespace fleet::builder::secrets {
namespace {

namespace fs = std::filesystem;
using protocol::Phase;
using protocol::Status;

// Plaintext is wiped when it goes out of scope; it lives only in memory and in dest files.
struct Plaintext {
  age::Bytes bytes;
  ~Plaintext() { sodium_memzero(bytes.data(), bytes.size()); }
};

std::vector<age::Identity> load_identities(const fs::path& path) {
  std::optional<std::vector<age::Identity>> identities;
  try {
    identities = age::read_identity_file(path);
  } catch (Error& e) {
    e.add_context("reading the host key (fleet-builder decrypts secrets with it; run as root, or give --host-key)");
    throw;
  }
  if (!identities) {
    throw Error("the host key " + path.string() + " does not exist (fleet-builder decrypts secrets with it; give --host-key)");
  }
  return std::move(*identities);
}

}  // namespace

bool install_secrets(const SecretBundle& bundle, const std::string& when, const SecretOptions& options,
                     EventWriter& events) {
  std::vector<const SecretPayload*> chosen;
  for (const auto& secret : bundle.secrets) {
    if (when.empty() || secret.spec.when == when) {
      chosen.push_back(&secret);
    }
  }
  if (chosen.empty()) {
    return true;
  }
  const auto& node = bundle.node;
  events.emit(node, Phase::secrets, Status::start,
              "installing " + std::to_string(chosen.size()) + (when.empty() ? "" : " " + when) + " secret(s)");
  std::optional<std::vector<age::Identity>> identities;
  std::string identity_error;
  try {
    identities = load_identities(options.host_key);
  } catch (const std::exception& e) {
    if (is_internal_error(e)) {
      throw;
    }
    identity_error = e.what();  // reported with each secret it leaves undecrypted
  }
  bool required_ok = true;
  std::string failures;
  for (const auto* secret : chosen) {
    const auto& spec = secret->spec;
    try {
      if (!identities) {
        throw Error(identity_error);
      }
      Plaintext plaintext;
      try {
        plaintext.bytes = age::decrypt(secret->ciphertext, *identities);
      } catch (Error& e) {
        e.add_context("decrypting it with " + options.host_key.string() +
                      " (check the node's hostKey in fleet.json, then run `fleet secrets rekey`)");
        throw;
      }
      write_secret_file(spec, plaintext.bytes);
      events.emit(node, Phase::secrets, Status::progress,
                  "secret '" + spec.name + "' → " + spec.dest + " (" + spec.owner + ":" + spec.group + " " + spec.mode + ")");
    } catch (const std::exception& e) {
      std::string why = "secret '" + spec.name + "' (" + spec.dest + "): " + describe_error(e);
      if (spec.required) {
        required_ok = false;
        failures += (failures.empty() ? "" : "; ") + why;
      }
      events.emit(node, Phase::secrets, Status::progress, (spec.required ? "" : "optional ") + why);
    }
  }
  if (!required_ok) {
    events.emit(node, Phase::secrets, Status::fail, "required secret failed: " + failures);
    return false;
  }
  events.emit(node, Phase::secrets, Status::ok, "secrets installed");
  return true;
}

bool restore_per_node(const SecretOptions& options, EventWriter& events) {
  std::error_code ec;
  if (!fs::is_directory(options.keep_dir, ec)) {
    return true;
  }
  bool all_ok = true;
  for (const auto& entry : fs::directory_iterator(options.keep_dir)) {
    auto file = entry.path() / "secrets.json";
    if (!fs::is_regular_file(file, ec)) {
      continue;
    }
    std::string node = entry.path().filename().string();
    try {
      auto json = protocol::parse_json(read_whole_file(file).value_or(""));
      if (json.is_discarded()) {
        throw ProtocolError("not valid JSON");
      }
      auto bundle = parse_bundle(json);
      if (bundle.node != node) {
        throw ProtocolError(file.string() + " is about node '" + bundle.node + "'");
      }
      all_ok = install_secrets(bundle, "", options, events) && all_ok;
    } catch (const std::exception& e) {
      // One node's kept secrets failing must not keep the other nodes' from being restored.
      all_ok = false;
      events.emit(node, Phase::secrets, Status::fail, "cannot restore from " + file.string() + ": " + describe_error(e));
    }
  }
  return all_ok;
}

}  // namespace fleet::builder::secrets
