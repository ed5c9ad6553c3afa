// SPDX-License-Identifier: MIT
#include "uploader/age/bech32.hpp"

#include "uploader/base/error.hpp"

#include <cctype>
#include <cstdint>
#include <vector>

namespace fleet::age {
namespace {

constexpr std::string_view k_charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

std::uint32_t polymod(const std::vector<std::uint8_t>& values) {
  static const std::uint32_t k_gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
  std::uint32_t chk = 1;
  for (auto v : values) {
    std::uint32_t top = chk >> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (int i = 0; i < 5; ++i) {
      if ((top >> i) & 1) {
        chk ^= k_gen[i];
      }
    }
  }
  return chk;
}

std::vector<std::uint8_t> expand_hrp(const std::string& hrp) {
  std::vector<std::uint8_t> out;
  for (char c : hrp) {
    out.push_back(static_cast<std::uint8_t>(c) >> 5);
  }
  out.push_back(0);
  for (char c : hrp) {
    out.push_back(static_cast<std::uint8_t>(c) & 31);
  }
  return out;
}

// Regroups bits; `pad` is set when encoding (8 → 5), cleared when decoding (5 → 8), where
// leftover bits must be zero and fewer than `from`.
bool convert_bits(const std::vector<std::uint8_t>& in, int from, int to, bool pad, std::vector<std::uint8_t>& out) {
  std::uint32_t acc = 0;
  int bits = 0;
  const std::uint32_t max = (1u << to) - 1;
  for (auto v : in) {
    acc = (acc << from) | v;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push_back(static_cast<std::uint8_t>((acc >> bits) & max));
    }
  }
  if (pad) {
    if (bits > 0) {
      out.push_back(static_cast<std::uint8_t>((acc << (to - bits)) & max));
    }
    return true;
  }
  return bits < from && ((acc << (to - bits)) & max) == 0;
}

}  // namespace

std::string bech32_encode(const std::string& hrp, std::string_view data) {
  std::vector<std::uint8_t> values;
  convert_bits(std::vector<std::uint8_t>(data.begin(), data.end()), 8, 5, true, values);
  auto check_input = expand_hrp(hrp);
  check_input.insert(check_input.end(), values.begin(), values.end());
  check_input.insert(check_input.end(), 6, 0);
  std::uint32_t mod = polymod(check_input) ^ 1;
  std::string out = hrp + "1";
  for (auto v : values) {
    out.push_back(k_charset[v]);
  }
  for (int i = 0; i < 6; ++i) {
    out.push_back(k_charset[(mod >> (5 * (5 - i))) & 31]);
  }
  return out;
}

Bech32 bech32_decode(std::string_view text, const std::string& what) {
  bool lower = false;
  bool upper = false;
  for (char c : text) {
    if (c < 33 || c > 126) {
      throw Error(what + " contains a character that is not printable ASCII");
    }
    lower = lower || std::islower(static_cast<unsigned char>(c));
    upper = upper || std::isupper(static_cast<unsigned char>(c));
  }
  if (lower && upper) {
    throw Error(what + " mixes upper and lower case");
  }
  std::string s(text);
  for (auto& c : s) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  auto sep = s.rfind('1');
  if (sep == std::string::npos || sep == 0 || sep + 7 > s.size()) {
    throw Error(what + " is not a Bech32 string (no separator or too short)");
  }
  Bech32 result;
  result.hrp = s.substr(0, sep);
  std::vector<std::uint8_t> values;
  for (std::size_t i = sep + 1; i < s.size(); ++i) {
    auto pos = k_charset.find(s[i]);
    if (pos == std::string_view::npos) {
      throw Error(what + " has the character '" + std::string(1, s[i]) + "', which Bech32 does not use");
    }
    values.push_back(static_cast<std::uint8_t>(pos));
  }
  auto check_input = expand_hrp(result.hrp);
  check_input.insert(check_input.end(), values.begin(), values.end());
  if (polymod(check_input) != 1) {
    throw Error(what + " has an invalid Bech32 checksum (a typo, or a Bech32m key from another tool)");
  }
  values.resize(values.size() - 6);
  std::vector<std::uint8_t> bytes;
  if (!convert_bits(values, 5, 8, false, bytes)) {
    throw Error(what + " has invalid Bech32 padding");
  }
  result.data.assign(bytes.begin(), bytes.end());
  return result;
}

}  // namespace fleet::age
