// SPDX-License-Identifier: MIT
#include "builder/secrets/secret_bundle.hpp"

#include "uploader/base/error.hpp"
#include "uploader/age/codec.hpp"

#include <fstream>
#include <sstream>

namespace fleet::builder::secrets {
namespace {

constexpr std::uintmax_t k_max_ciphertext = 16 << 20;

}  // namespace

SecretBundle load_bundle(const std::string& node, const std::vector<protocol::JobSecret>& specs,
                         const std::filesystem::path& source_root) {
  namespace fs = std::filesystem;
  SecretBundle bundle{node, {}};
  std::error_code ec;
  auto root = fs::canonical(source_root, ec);
  for (const auto& spec : specs) {
    auto path = source_root / spec.file;
    auto real = fs::canonical(path, ec);
    auto relative = ec ? fs::path() : real.lexically_relative(root);
    if (ec || relative.empty() || *relative.begin() == "..") {
      throw NodeError("secret '" + spec.name + "': " + spec.file + " is missing from the source or leads outside it");
    }
    if (!fs::is_regular_file(real) || fs::file_size(real) > k_max_ciphertext) {
      throw NodeError("secret '" + spec.name + "': " + spec.file + " is not a regular file of at most 16 MiB");
    }
    std::ifstream in(real, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) {
      throw NodeError("secret '" + spec.name + "': cannot read " + spec.file);
    }
    bundle.secrets.push_back({spec, text.str()});
  }
  return bundle;
}

nlohmann::json to_json(const SecretBundle& bundle) {
  nlohmann::json secrets = nlohmann::json::array();
  for (const auto& secret : bundle.secrets) {
    auto entry = protocol::to_json(secret.spec);
    entry["ciphertext"] = age::base64_encode_padded(secret.ciphertext);
    secrets.push_back(std::move(entry));
  }
  return {{"node", bundle.node}, {"secrets", secrets}};
}

SecretBundle parse_bundle(const nlohmann::json& json) {
  if (!json.is_object() || !json.contains("node") || !json["node"].is_string() || !json.contains("secrets") ||
      !json["secrets"].is_array()) {
    throw ProtocolError("a secrets document must be {\"node\": …, \"secrets\": […]}");
  }
  SecretBundle bundle{json["node"].get<std::string>(), {}};
  for (const auto& entry : json["secrets"]) {
    std::string where = "secrets[" + std::to_string(bundle.secrets.size()) + "].";
    auto spec = protocol::parse_job_secret(entry, where);
    auto ciphertext = entry.find("ciphertext");
    if (ciphertext == entry.end() || !ciphertext->is_string()) {
      throw ProtocolError("field '" + where + "ciphertext' is missing or not a string");
    }
    try {
      bundle.secrets.push_back({spec, age::base64_decode_padded(ciphertext->get<std::string>(), where + "ciphertext")});
    } catch (const Error& e) {
      throw ProtocolError(e.what());
    }
  }
  return bundle;
}

}  // namespace fleet::builder::secrets
