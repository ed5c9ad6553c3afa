// SPDX-License-Identifier: MIT
#include "coordinator/secrets/secret_catalog.hpp"

#include "uploader/base/error.hpp"

#include <algorithm>
#include <map>

namespace fleet::coordinator {

std::string to_string(SecretState state) {
  switch (state) {
    case SecretState::up_to_date:
      return "up to date";
    case SecretState::out_of_date:
      return "OUT OF DATE";
    case SecretState::unknown:
      return "unknown (X25519 stanzas cannot be matched without their keys)";
    case SecretState::missing:
      return "MISSING";
  }
  return "?";
}

std::vector<age::Recipient> recipients_for(const FleetConfig& config, const std::vector<std::string>& nodes) {
  std::vector<age::Recipient> out;
  auto add = [&](age::Recipient r) {
    bool seen = std::any_of(out.begin(), out.end(), [&](const age::Recipient& o) { return o.text == r.text; });
    if (!seen) {
      out.push_back(std::move(r));
    }
  };
  for (const auto& name : nodes) {
    const auto& node = config.nodes.at(name);
    if (node.host_key.empty()) {
      throw ConfigError(config.file.string() + ": nodes." + name + ".hostKey: node '" + name +
                        "' has no hostKey, so nothing can be encrypted to it; add \"hostKey\": \"ssh-ed25519 AAAA…\" "
                        "(from `ssh-keyscan -t ed25519 " + node.host + "`, checked against the host)");
    }
    try {
      add(age::parse_recipient(node.host_key));
    } catch (const Error& e) {
      throw ConfigError(config.file.string() + ": nodes." + name + ".hostKey: " + e.what());
    }
  }
  for (std::size_t i = 0; i < config.admins.size(); ++i) {
    try {
      add(age::parse_recipient(config.admins[i]));
    } catch (const Error& e) {
      throw ConfigError(config.file.string() + ": admins[" + std::to_string(i) + "]: " + e.what());
    }
  }
  return out;
}

std::vector<SecretFile> secret_files(const FleetConfig& config) {
  std::map<std::filesystem::path, std::vector<std::string>> users;
  for (const auto& [name, node] : config.nodes) {
    for (const auto& secret : node.secrets) {
      auto path = (config.file.parent_path() / secret.file).lexically_normal();
      auto& nodes = users[path];
      if (std::find(nodes.begin(), nodes.end(), name) == nodes.end()) {
        nodes.push_back(name);
      }
    }
  }
  std::vector<SecretFile> out;
  for (auto& [path, nodes] : users) {
    out.push_back({path, nodes, recipients_for(config, nodes)});
  }
  return out;
}

SecretState secret_state(std::string_view content, const std::vector<age::Recipient>& recipients) {
  auto stanzas = age::inspect(content);
  std::vector<std::string> have_tags;
  std::size_t have_x25519 = 0;
  for (const auto& s : stanzas) {
    if (s.type == "ssh-ed25519") {
      have_tags.push_back(s.ssh_tag);
    } else if (s.type == "X25519") {
      ++have_x25519;
    } else {
      return SecretState::out_of_date;
    }
  }
  std::vector<std::string> want_tags;
  std::size_t want_x25519 = 0;
  for (const auto& r : recipients) {
    if (r.kind == age::KeyKind::ssh_ed25519) {
      want_tags.push_back(r.ssh_tag());
    } else {
      ++want_x25519;
    }
  }
  std::sort(have_tags.begin(), have_tags.end());
  std::sort(want_tags.begin(), want_tags.end());
  if (have_tags != want_tags || have_x25519 != want_x25519) {
    return SecretState::out_of_date;
  }
  return want_x25519 == 0 ? SecretState::up_to_date : SecretState::unknown;
}

}  // namespace fleet::coordinator
