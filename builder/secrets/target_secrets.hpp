// SPDX-License-Identifier: MIT
#pragma once

#include "builder/activation/activate_here.hpp"
#include "builder/secrets/secret_bundle.hpp"
#include "builder/secrets/secret_install.hpp"

#include <filesystem>
#include <vector>

namespace fleet::builder {
struct TargetState;
}

namespace fleet::builder::secrets {

// A target's secrets as the agent carries them: ciphertexts and where the target keeps them.
struct TargetSecrets {
  SecretBundle bundle;
  SecretOptions options;
};

// On the build node: reads every target's ciphertexts from the unpacked source at
// `source_root` (never decrypting them). A target whose file is missing fails in the
// `secrets` phase; the others go on.
void attach_bundles(std::vector<TargetState>& targets, const std::filesystem::path& source_root,
                    const std::filesystem::path& state_dir, EventWriter& events);

// Activates on this host with the node's secrets around it: pre-activation secrets first (a
// required one that fails stops here, nothing activated), then activate_here, then the
// post-activation ones. dry-activate and build install nothing. Returns activate_here's result
// ("ok", "failed", "rolled-back").
std::string activate_with_secrets(const ActivationRequest& request, const NixCli& nix,
                                  const std::filesystem::path& state_dir, const TargetSecrets& secrets,
                                  EventWriter& events);

// What `fleet-builder activate --stdin` reads: how to activate safely, and the secrets.
struct ActivationDocument {
  protocol::ActivationSpec spec;
  SecretBundle bundle;
};

std::string activation_stdin(const protocol::ActivationSpec& spec, const SecretBundle& bundle);

// Reads that document; throws ProtocolError when it is malformed or about another node.
ActivationDocument read_activation_stdin(std::istream& input, const std::string& node);

}  // namespace fleet::builder::secrets
