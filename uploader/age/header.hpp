// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/age/codec.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace fleet::age {

// One recipient stanza: `-> TYPE ARG…` and its body.
struct Stanza {
  std::string type;
  std::vector<std::string> args;
  Bytes body;
};

// A parsed age header. `mac_input` is the received header up to and including "---", over
// which the MAC is checked, so it is never re-serialised.
struct Header {
  std::vector<Stanza> stanzas;
  Bytes mac;           // 32 bytes
  Bytes mac_input;
  std::size_t payload_offset = 0;  // where the payload (nonce first) starts in the file
};

// Parses the header of a binary age file strictly (C2SP age: exact version line, canonical
// base64, 64-column bodies ending in a short line, bounded size). Throws fleet::Error saying
// which line is wrong.
Header parse_header(std::string_view file);

// Serialises the stanzas and the "---" line without the MAC: the text the MAC covers.
Bytes header_without_mac(const std::vector<Stanza>& stanzas);

// The header MAC for `file_key` over `mac_input`.
Bytes header_mac(std::string_view file_key, std::string_view mac_input);

}  // namespace fleet::age
