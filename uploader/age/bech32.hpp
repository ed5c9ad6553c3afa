// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/age/codec.hpp"

#include <string>
#include <string_view>

namespace fleet::age {

// A decoded Bech32 string: its human-readable part (lowercase) and the data bytes.
struct Bech32 {
  std::string hrp;
  Bytes data;
};

// Encodes `data` as BIP 173 Bech32 (not Bech32m), lowercase, with no length limit, as age keys are.
std::string bech32_encode(const std::string& hrp, std::string_view data);

// Decodes a Bech32 string in all-lowercase or all-uppercase; throws fleet::Error naming `what` on
// mixed case, bad characters, a bad checksum (also a Bech32m one) or non-zero padding.
Bech32 bech32_decode(std::string_view text, const std::string& what);

}  // namespace fleet::age
