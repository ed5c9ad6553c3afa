// SPDX-License-Identifier: MIT
#include "uploader/age/codec.hpp"

#include "uploader/base/error.hpp"
#include "uploader/hash/sha256.hpp"

#include <sodium.h>

namespace fleet::age {
namespace {

std::string encode(std::string_view data, int variant) {
  hash::ensure_sodium();
  std::string out(sodium_base64_encoded_len(data.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(data.data()), data.size(), variant);
  out.resize(out.size() - 1);  // the terminating NUL sodium writes
  return out;
}

Bytes decode(std::string_view text, int variant, const std::string& what) {
  hash::ensure_sodium();
  Bytes out(text.size() / 4 * 3 + 3, '\0');
  std::size_t length = 0;
  const char* end = nullptr;
  // sodium stops early on "AA==" for the unpadded variant and reports success, so insist that
  // every character was consumed.
  int rc = sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(),
                             nullptr, &length, &end, variant);
  if (rc != 0 || end != text.data() + text.size()) {
    throw Error(what + " is not valid canonical base64");
  }
  out.resize(length);
  return out;
}

}  // namespace

std::string base64_encode_raw(std::string_view data) {
  return encode(data, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

Bytes base64_decode_raw(std::string_view text, const std::string& what) {
  return decode(text, sodium_base64_VARIANT_ORIGINAL_NO_PADDING, what);
}

std::string base64_encode_padded(std::string_view data) {
  return encode(data, sodium_base64_VARIANT_ORIGINAL);
}

Bytes base64_decode_padded(std::string_view text, const std::string& what) {
  return decode(text, sodium_base64_VARIANT_ORIGINAL, what);
}

std::uint32_t WireReader::u32() {
  auto bytes = raw(4);
  std::uint32_t value = 0;
  for (char c : bytes) {
    value = (value << 8) | static_cast<unsigned char>(c);
  }
  return value;
}

std::string_view WireReader::string() {
  return raw(u32());
}

std::string_view WireReader::raw(std::size_t n) {
  if (n > m_data.size()) {
    throw Error(m_what + " is truncated or malformed");
  }
  auto out = m_data.substr(0, n);
  m_data.remove_prefix(n);
  return out;
}

void put_wire_string(Bytes& out, std::string_view value) {
  auto n = static_cast<std::uint32_t>(value.size());
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((n >> shift) & 0xff));
  }
  out.append(value);
}

}  // namespace fleet::age
