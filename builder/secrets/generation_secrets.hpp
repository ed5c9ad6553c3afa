// SPDX-License-Identifier: MIT
#pragma once

#include "builder/event_writer.hpp"
#include "builder/secrets/secret_bundle.hpp"
#include "builder/secrets/secret_install.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace fleet::builder::secrets {

// The secrets follow the system generation: the bundle (ciphertexts) each system toplevel was
// deployed with is kept as keep_dir/systems/<toplevel's store name>.json, so that a rollback puts
// back the secrets of the generation it returns to and a boot installs the secrets of the
// generation it booted. Used by the root supervisor and `recover` only.
class GenerationSecrets {
public:
  explicit GenerationSecrets(SecretOptions options) : m_options(std::move(options)) {}

  // Keeps `bundle` as the one `system` (a /nix/store toplevel) was deployed with. Throws.
  void keep(const std::string& system, const SecretBundle& bundle) const;
  // The bundle kept for `system`; nullopt when none was (deployed without fleet, or before it
  // kept bundles per generation). Throws fleet::Error when the kept file is damaged.
  std::optional<SecretBundle> kept(const std::string& system) const;

  // install_secrets() with this host's options.
  bool install(const SecretBundle& bundle, const std::string& when, EventWriter& events) const;

  // Rolls the secrets back from `leaving` to those kept for `system`: re-installs that bundle
  // and removes the files only `leaving` had. Without a kept bundle, says so and leaves the
  // installed files alone (nothing is known to be wrong with them). Returns false when a
  // required secret failed.
  bool return_to(const std::string& system, const SecretBundle& leaving, EventWriter& events) const;

  // At boot: installs the bundle kept for `system` (what the system profile points at); when
  // none is kept, what older agents kept per node (restore_per_node()). `node` names the events.
  bool install_for_boot(const std::string& system, const std::string& node, EventWriter& events) const;

  std::filesystem::path file_for(const std::string& system) const;

private:
  SecretOptions m_options;
};

// The destinations `leaving` installs that `staying` does not: what a rollback removes.
std::vector<std::string> dests_only_in(const SecretBundle& leaving, const SecretBundle& staying);

}  // namespace fleet::builder::secrets
