// SPDX-License-Identifier: MIT
#include "uploader/protocol/json_document.hpp"

#include "uploader/base/error.hpp"

namespace fleet::protocol {

nlohmann::json read_json_document(std::istream& input, std::size_t max_bytes, const std::string& what) {
  std::string text;
  char buffer[65536];
  while (input.read(buffer, sizeof buffer) || input.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(input.gcount()));
    if (text.size() > max_bytes) {
      throw ProtocolError(what + " exceeds " + std::to_string(max_bytes) + " bytes");
    }
  }
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded()) {
    throw ProtocolError(what + " is not valid JSON");
  }
  return json;
}

const nlohmann::json& require_field(const nlohmann::json& object, const char* document, const std::string& where,
                                    const char* key, nlohmann::json::value_t type) {
  using value_t = nlohmann::json::value_t;
  auto it = object.find(key);
  if (it == object.end()) {
    throw ProtocolError(std::string(document) + " field '" + where + key + "' is missing");
  }
  const bool ok = it->type() == type || (type == value_t::number_integer && it->is_number_unsigned()) ||
                  (type == value_t::number_float && it->is_number());
  if (!ok) {
    throw ProtocolError(std::string(document) + " field '" + where + key + "' has type " + it->type_name());
  }
  return *it;
}

}  // namespace fleet::protocol
