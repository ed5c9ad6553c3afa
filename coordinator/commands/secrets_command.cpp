// SPDX-License-Identifier: MIT
// `fleet secrets encrypt|edit|rekey|list`: age files encrypted to the nodes' host keys and to
// the admins. A file is rewritten only when its plaintext or its recipients change, because
// age output is randomized and the source tarball must stay deterministic.
#include "coordinator/commands/commands.hpp"
#include "coordinator/config/fleet_config.hpp"
#include "coordinator/config/selector.hpp"
#include "coordinator/secrets/secret_catalog.hpp"
#include "coordinator/secrets/secret_io.hpp"
#include "uploader/base/error.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>
#include <iterator>

namespace fleet::coordinator {
namespace {

namespace fs = std::filesystem;

FleetConfig load_config(const SecretsOptions& options) {
  fs::path file = options.config_file.empty() ? find_fleet_config(fs::current_path()) : fs::path(options.config_file);
  return load_fleet_config(file);
}

void check_secret_name(const std::string& name) {
  bool ok = !name.empty() && name.front() != '.' && name.front() != '-' &&
            std::all_of(name.begin(), name.end(), [](unsigned char c) {
              return std::isalnum(c) || c == '-' || c == '_' || c == '.';
            });
  if (!ok) {
    throw ConfigError("'" + name + "' is not a secret name; use letters, digits, '-', '_' and '.'");
  }
}

std::string shown(const FleetConfig& config, const fs::path& path) {
  auto relative = path.lexically_relative(config.file.parent_path());
  return relative.empty() || *relative.begin() == ".." ? path.string() : relative.string();
}

// The recipients a file gets: from the nodes that reference it, else (a file no node uses yet)
// nothing is known and the caller must say --for.
const SecretFile* find_file(const std::vector<SecretFile>& files, const fs::path& path) {
  for (const auto& file : files) {
    if (file.path == path.lexically_normal()) {
      return &file;
    }
  }
  return nullptr;
}

// Writes `plaintext` to `path` for `recipients` unless the file already holds exactly that
// plaintext for exactly those recipients. Returns whether it wrote.
bool write_if_changed(const fs::path& path, const std::string& plaintext, const std::vector<age::Recipient>& recipients,
                      const std::optional<std::vector<age::Identity>>& identities) {
  if (auto current = read_optional_file(path); current && identities) {
    try {
      // `unknown` counts as current here: X25519 stanzas can only be counted, and `rekey --force`
      // is the way to renew them.
      if (secret_state(*current, recipients) != SecretState::out_of_date &&
          age::decrypt(*current, *identities) == plaintext) {
        return false;
      }
    } catch (const Error&) {
      // Not readable with our key, or corrupt: rewrite it.
    }
  }
  replace_file(path, age::encrypt(plaintext, recipients));
  return true;
}

// age::decrypt, and when it throws, the error says which file it was.
age::Bytes decrypt_file(const FleetConfig& config, const fs::path& path, const std::string& text,
                        const std::vector<age::Identity>& identities) {
  try {
    return age::decrypt(text, identities);
  } catch (Error& e) {
    e.add_context("decrypting " + shown(config, path));
    throw;
  }
}

std::string describe(const std::vector<age::Recipient>& recipients) {
  return std::to_string(recipients.size()) + " recipient(s)";
}

int encrypt_command(const SecretsOptions& options) {
  check_secret_name(options.name);
  auto config = load_config(options);
  auto nodes = select_nodes(config, options.for_nodes);
  auto recipients = recipients_for(config, nodes);
  std::string plaintext{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  auto path = config.secrets_dir / (options.name + ".age");
  bool wrote = write_if_changed(path, plaintext, recipients, try_admin_identity(options.identity));
  std::string node_list;
  for (const auto& n : nodes) {
    node_list += (node_list.empty() ? "" : ", ") + n;
  }
  std::cerr << (wrote ? "wrote " : "unchanged: ") << shown(config, path) << " for " << node_list << " and "
            << config.admins.size() << " admin(s)\n";
  return 0;
}

int edit_command(const SecretsOptions& options) {
  check_secret_name(options.name);
  auto config = load_config(options);
  auto path = config.secrets_dir / (options.name + ".age");
  auto files = secret_files(config);
  const SecretFile* file = find_file(files, path);
  if (file == nullptr) {
    throw ConfigError(shown(config, path) + " is not referenced by any node's secrets, so its recipients are unknown; "
                      "add it under nodes.<name>.secrets or use `fleet secrets encrypt " + options.name + " --for SEL`");
  }
  auto current = read_optional_file(path);
  if (!current) {
    throw ConfigError(shown(config, path) + " does not exist yet; create it with `fleet secrets encrypt " + options.name +
                      " --for SEL < plaintext`");
  }
  auto identities = load_admin_identity(options.identity);
  auto plaintext = decrypt_file(config, path, *current, identities);
  auto edited = edit_privately(options.name, plaintext);
  bool wrote = write_if_changed(path, edited, file->recipients, identities);
  std::cerr << (wrote ? "re-encrypted " : "unchanged: ") << shown(config, path) << " (" << describe(file->recipients) << ")\n";
  return 0;
}

int rekey_command(const SecretsOptions& options) {
  auto config = load_config(options);
  auto identities = load_admin_identity(options.identity);
  int failures = 0;
  for (const auto& file : secret_files(config)) {
    auto current = read_optional_file(file.path);
    std::string name = shown(config, file.path);
    if (!current) {
      std::cerr << name << ": missing; create it with `fleet secrets encrypt`\n";
      ++failures;
      continue;
    }
    try {
      auto state = secret_state(*current, file.recipients);
      if (state == SecretState::up_to_date || (state == SecretState::unknown && !options.force)) {
        std::cerr << name << ": " << to_string(state) << ", left as is\n";
        continue;
      }
      replace_file(file.path, age::encrypt(age::decrypt(*current, identities), file.recipients));
      std::cerr << name << ": re-encrypted to " << describe(file.recipients) << '\n';
    } catch (const Error& e) {
      std::cerr << name << ": " << e.what() << '\n';
      ++failures;
    }
  }
  return failures == 0 ? 0 : 1;
}

int list_command(const SecretsOptions& options) {
  auto config = load_config(options);
  nlohmann::json out = nlohmann::json::object();
  bool stale = false;
  for (const auto& file : secret_files(config)) {
    auto current = read_optional_file(file.path);
    std::string state;
    try {
      state = to_string(current ? secret_state(*current, file.recipients) : SecretState::missing);
    } catch (const Error& e) {
      state = std::string("unreadable: ") + e.what();
    }
    stale = stale || state == "OUT OF DATE" || state == "MISSING" || state.rfind("unreadable", 0) == 0;
    std::string name = shown(config, file.path);
    if (options.json) {
      out[name] = {{"nodes", file.nodes}, {"recipients", file.recipients.size()}, {"state", state}};
      continue;
    }
    std::string nodes;
    for (const auto& n : file.nodes) {
      nodes += (nodes.empty() ? "" : ", ") + n;
    }
    std::cout << name << " → " << nodes << " (" << describe(file.recipients) << "): " << state << '\n';
  }
  if (options.json) {
    std::cout << out.dump(2) << '\n';
  } else if (stale) {
    std::cout << "run `fleet secrets rekey` to re-encrypt the files that are out of date\n";
  }
  return stale ? 1 : 0;
}

}  // namespace

int run_secrets_command(const SecretsOptions& options) {
  if (options.action == "encrypt") {
    return encrypt_command(options);
  }
  if (options.action == "edit") {
    return edit_command(options);
  }
  if (options.action == "rekey") {
    return rekey_command(options);
  }
  return list_command(options);
}

}  // namespace fleet::coordinator
