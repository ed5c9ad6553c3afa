// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/age/codec.hpp"

#include <string_view>

namespace fleet::age {

// HKDF-SHA256 (RFC 5869) built on libsodium's HMAC-SHA256, which 1.0.18 has while it lacks
// HKDF itself. Returns `length` bytes (at most 255 × 32) of output keying material.
Bytes hkdf_sha256(std::string_view ikm, std::string_view salt, std::string_view info, std::size_t length);

// HMAC-SHA256 of `data` under `key` (any key length).
Bytes hmac_sha256(std::string_view key, std::string_view data);

}  // namespace fleet::age
