// SPDX-License-Identifier: MIT
#include "builder/secrets/target_secrets.hpp"

#include "builder/phases/target_state.hpp"
#include "uploader/base/error.hpp"
#include "uploader/protocol/json_document.hpp"

#include <istream>
#include <iterator>

namespace fleet::builder::secrets {
namespace {

constexpr std::size_t k_max_document = 64 << 20;

}  // namespace

void attach_bundles(std::vector<TargetState>& targets, const std::filesystem::path& source_root, EventWriter& events) {
  for (auto& state : targets) {
    state.secrets.bundle.node = state.target.node;
    if (state.failed || state.target.secrets.empty()) {
      continue;
    }
    try {
      state.secrets.bundle = load_bundle(state.target.node, state.target.secrets, source_root);
    } catch (const std::exception& e) {
      // One target's secrets failing, for whatever reason, must not stop the other targets.
      state.failed = true;
      events.emit(state.target.node, protocol::Phase::secrets, protocol::Status::fail, describe_error(e));
    }
  }
}

std::string activation_stdin(const protocol::ActivationSpec& spec, const SecretBundle& bundle) {
  return nlohmann::json{{"activation", protocol::to_json(spec)}, {"secrets", to_json(bundle)}}.dump();
}

ActivationDocument read_activation_stdin(std::istream& input, const std::string& node) {
  auto json = protocol::read_json_document(input, k_max_document, "the activation document on stdin");
  if (!json.is_object() || !json.contains("activation") || !json.contains("secrets")) {
    throw ProtocolError("the activation document on stdin is not a JSON object with 'activation' and 'secrets'");
  }
  ActivationDocument document{protocol::parse_activation_spec(json["activation"], "activation."), parse_bundle(json["secrets"])};
  const auto& bundle = document.bundle;
  if (bundle.node != node) {
    throw ProtocolError("the secrets document is for node '" + bundle.node + "', not '" + node + "'");
  }
  return document;
}

}  // namespace fleet::builder::secrets
