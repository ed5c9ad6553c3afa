// SPDX-License-Identifier: MIT
#pragma once

#include <nlohmann/json.hpp>

#include <istream>
#include <string>

namespace fleet::protocol {

// Reads all of `input` (a peer's stdin) as one JSON value, refusing more than `max_bytes`.
// Throws ProtocolError naming `what` ("the job on stdin") when it is too large or not JSON.
nlohmann::json read_json_document(std::istream& input, std::size_t max_bytes, const std::string& what);

}  // namespace fleet::protocol
