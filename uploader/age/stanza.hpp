// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/age/header.hpp"
#include "uploader/age/keys.hpp"

#include <optional>
#include <string_view>

namespace fleet::age {

// Wraps the 16-byte `file_key` for `recipient` in an X25519 or ssh-ed25519 stanza.
Stanza wrap_file_key(std::string_view file_key, const Recipient& recipient);

// Unwraps the file key from `stanza` with `identity`, or returns nothing when the stanza is
// not for this identity. Throws fleet::Error for a malformed X25519 or ssh-ed25519 stanza
// (wrong argument count, wrong body size), which age treats as fatal.
std::optional<Bytes> unwrap_file_key(const Stanza& stanza, const Identity& identity);

}  // namespace fleet::age
