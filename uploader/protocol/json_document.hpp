// SPDX-License-Identifier: MIT
#pragma once

#include <nlohmann/json.hpp>

#include <istream>
#include <string>

namespace fleet::protocol {

// Reads all of `input` (a peer's stdin) as one JSON value, refusing more than `max_bytes`.
// Throws ProtocolError naming `what` ("the job on stdin") when it is too large or not JSON.
nlohmann::json read_json_document(std::istream& input, std::size_t max_bytes, const std::string& what);

// The field `key` of `object`, part of a peer's `document` ("job", "relay"), of JSON type `type`
// (number_integer also takes unsigned numbers, number_float any number). Throws ProtocolError
// naming "<document> field '<where><key>'" when it is missing or of another type.
const nlohmann::json& require_field(const nlohmann::json& object, const char* document, const std::string& where,
                                    const char* key, nlohmann::json::value_t type);

}  // namespace fleet::protocol
