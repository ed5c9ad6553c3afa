// SPDX-License-Identifier: MIT
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <istream>
#include <string>
#include <string_view>

namespace fleet::protocol {

// Deeper than any document fleet writes. nlohmann's parser does not recurse, but copying,
// comparing and dumping a value do: a peer's `[[[[…` a few hundred thousand deep would end the
// process on a stack overflow wherever the value went next.
inline constexpr std::size_t k_max_json_depth = 128;

// `text` parsed as JSON; a discarded value (is_discarded()) when it is not JSON or nests arrays
// and objects deeper than k_max_json_depth. What fleet reads from peers, commands and files goes
// through here; fleet.json, which needs a parse error's position, checks nests_deeper_than() itself.
nlohmann::json parse_json(std::string_view text);

// Whether `text` opens more than `depth` arrays or objects inside one another (strings skipped).
bool nests_deeper_than(std::string_view text, std::size_t depth);

// Reads all of `input` (a peer's stdin) as one JSON value, refusing more than `max_bytes`.
// Throws ProtocolError naming `what` ("the job on stdin") when it is too large or not JSON.
nlohmann::json read_json_document(std::istream& input, std::size_t max_bytes, const std::string& what);

// The field `key` of `object`, part of a peer's `document` ("job", "relay"), of JSON type `type`
// (number_integer also takes unsigned numbers, number_float any number). Throws ProtocolError
// naming "<document> field '<where><key>'" when it is missing or of another type.
const nlohmann::json& require_field(const nlohmann::json& object, const char* document, const std::string& where,
                                    const char* key, nlohmann::json::value_t type);

}  // namespace fleet::protocol
