// SPDX-License-Identifier: MIT
#include "uploader/protocol/json_document.hpp"

#include "uploader/base/error.hpp"

namespace fleet::protocol {

bool nests_deeper_than(std::string_view text, std::size_t depth) {
  std::size_t open = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++open > depth) {
        return true;
      }
    } else if ((c == ']' || c == '}') && open > 0) {
      --open;
    }
  }
  return false;
}

nlohmann::json parse_json(std::string_view text) {
  if (nests_deeper_than(text, k_max_json_depth)) {
    return nlohmann::json(nlohmann::json::value_t::discarded);
  }
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

nlohmann::json read_json_document(std::istream& input, std::size_t max_bytes, const std::string& what) {
  std::string text;
  char buffer[65536];
  while (input.read(buffer, sizeof buffer) || input.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(input.gcount()));
    if (text.size() > max_bytes) {
      throw ProtocolError(what + " exceeds " + std::to_string(max_bytes) + " bytes");
    }
  }
  auto json = parse_json(text);
  if (json.is_discarded()) {
    throw ProtocolError(what + " is not valid JSON (or nests deeper than " + std::to_string(k_max_json_depth) +
                        " levels)");
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
