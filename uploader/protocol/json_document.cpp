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

}  // namespace fleet::protocol
