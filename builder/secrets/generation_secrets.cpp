// SPDX-License-Identifier: MIT
#include "builder/secrets/generation_secrets.hpp"

#include "builder/secrets/secret_file.hpp"
#include "uploader/base/error.hpp"
#include "uploader/base/file_io.hpp"
#include "uploader/protocol/json_document.hpp"

#include <algorithm>

namespace fleet::builder::secrets {
namespace {

namespace fs = std::filesystem;
using protocol::Phase;
using protocol::Status;

// kept(), a damaged file reported as a `secrets` failure (and `damaged` set) instead of thrown.
std::optional<SecretBundle> kept_or_report(const GenerationSecrets& generations, const std::string& system,
                                           const std::string& node, EventWriter& events, bool& damaged) {
  try {
    return generations.kept(system);
  } catch (const Error& e) {
    events.emit(node, Phase::secrets, Status::fail, e.what());
    damaged = true;
    return std::nullopt;
  }
}

}  // namespace

std::vector<std::string> dests_only_in(const SecretBundle& leaving, const SecretBundle& staying) {
  std::vector<std::string> only;
  for (const auto& secret : leaving.secrets) {
    bool kept = std::any_of(staying.secrets.begin(), staying.secrets.end(),
                            [&](const SecretPayload& other) { return other.spec.dest == secret.spec.dest; });
    if (!kept && std::find(only.begin(), only.end(), secret.spec.dest) == only.end()) {
      only.push_back(secret.spec.dest);
    }
  }
  return only;
}

fs::path GenerationSecrets::file_for(const std::string& system) const {
  auto name = fs::path(system).filename().string();
  if (name.empty() || name == "." || name == "..") {
    throw Error("'" + system + "' names no system generation to keep secrets for");
  }
  return m_options.keep_dir / "systems" / (name + ".json");
}

void GenerationSecrets::keep(const std::string& system, const SecretBundle& bundle) const {
  write_private_file(file_for(system), to_json(bundle).dump());
}

std::optional<SecretBundle> GenerationSecrets::kept(const std::string& system) const {
  if (system.empty()) {
    return std::nullopt;
  }
  auto file = file_for(system);
  auto text = read_whole_file(file);
  if (!text) {
    return std::nullopt;
  }
  auto json = protocol::parse_json(*text);
  try {
    return parse_bundle(json);
  } catch (const ProtocolError& e) {
    throw Error("the secrets kept in " + file.string() + " are damaged: " + e.what());
  }
}

bool GenerationSecrets::install(const SecretBundle& bundle, const std::string& when, EventWriter& events) const {
  return install_secrets(bundle, when, m_options, events);
}

bool GenerationSecrets::return_to(const std::string& system, const SecretBundle& leaving, EventWriter& events) const {
  const auto& node = leaving.node;
  bool damaged = false;
  auto staying = kept_or_report(*this, system, node, events, damaged);
  if (damaged) {
    return false;
  }
  if (!staying) {
    if (!leaving.secrets.empty()) {
      events.emit(node, Phase::secrets, Status::progress,
                  "no secrets are kept for " + (system.empty() ? std::string("the previous system") : system) +
                      ": the installed secrets stay as they are");
    }
    return true;
  }
  bool ok = install(*staying, "", events);
  for (const auto& dest : dests_only_in(leaving, *staying)) {
    std::error_code ec;
    fs::remove(dest, ec);
    events.emit(node, Phase::secrets, Status::progress,
                ec ? "cannot remove " + dest + ": " + ec.message() : "removed " + dest + " (only the new generation had it)");
  }
  return ok;
}

bool GenerationSecrets::install_for_boot(const std::string& system, const std::string& node, EventWriter& events) const {
  bool damaged = false;
  auto bundle = kept_or_report(*this, system, node, events, damaged);
  if (damaged) {
    return false;
  }
  if (!bundle) {
    return restore_per_node(m_options, events);
  }
  return install(*bundle, "", events);
}

}  // namespace fleet::builder::secrets
