// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace fleet::age {

// Binary data (keys, ciphertexts, plaintexts) is held in std::string: it owns bytes, moves
// cheaply and reads and writes files without conversions.
using Bytes = std::string;

// Standard base64 without padding, as age headers use it.
std::string base64_encode_raw(std::string_view data);

// Decodes unpadded canonical base64; throws fleet::Error naming `what` for padding, stray
// characters or non-zero trailing bits.
Bytes base64_decode_raw(std::string_view text, const std::string& what);

// Standard padded base64 (armor, OpenSSH keys).
std::string base64_encode_padded(std::string_view data);

// Decodes padded canonical base64 of the whole of `text`; throws fleet::Error naming `what`.
Bytes base64_decode_padded(std::string_view text, const std::string& what);

// Reads SSH wire format values (uint32 lengths, big-endian) from a byte string.
class WireReader {
public:
  WireReader(std::string_view data, std::string what) : m_data(data), m_what(std::move(what)) {}

  // Next uint32; throws fleet::Error when the data ends first.
  std::uint32_t u32();
  // Next length-prefixed string.
  std::string_view string();
  // Next `n` raw bytes.
  std::string_view raw(std::size_t n);
  bool at_end() const { return m_data.empty(); }

private:
  std::string_view m_data;
  std::string m_what;
};

// Appends an SSH wire string (uint32 length, then the bytes) to `out`.
void put_wire_string(Bytes& out, std::string_view value);

}  // namespace fleet::age
