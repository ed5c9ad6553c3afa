// SPDX-License-Identifier: MIT
#pragma once

#include "builder/event_writer.hpp"
#include "uploader/protocol/activation_spec.hpp"
#include "builder/secrets/secret_bundle.hpp"
#include "builder/secrets/secret_install.hpp"

#include <filesystem>
#include <vector>

namespace fleet::builder {
struct TargetState;
}

namespace fleet::builder::secrets {

// A target's secrets as the agent carries them: ciphertexts only.
struct TargetSecrets {
  SecretBundle bundle;
};

// On the build node: reads every target's ciphertexts from the unpacked source at
// `source_root` (never decrypting them). A target whose file is missing fails in the
// `secrets` phase; the others go on.
void attach_bundles(std::vector<TargetState>& targets, const std::filesystem::path& source_root, EventWriter& events);

// What `fleet-builder activate --stdin` reads: how to activate safely, and the secrets.
struct ActivationDocument {
  protocol::ActivationSpec spec;
  SecretBundle bundle;
};

std::string activation_stdin(const protocol::ActivationSpec& spec, const SecretBundle& bundle);

// Reads that document; throws ProtocolError when it is malformed or about another node.
ActivationDocument read_activation_stdin(std::istream& input, const std::string& node);

}  // namespace fleet::builder::secrets
