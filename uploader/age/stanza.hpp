// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/age/header.hpp"
#include "uploader/age/keys.hpp"

#include <optional>
#include <string_view>

namespace fleet::age {

// The recipient stanza types fleet writes and reads.
inline constexpr std::string_view k_x25519_stanza = "X25519";
inline constexpr std::string_view k_ssh_ed25519_stanza = "ssh-ed25519";

// True for a stanza type unwrap_file_key() can open (the two above); any other (scrypt, age's
// post-quantum mlkem768x25519, a plugin's) is skipped by it.
bool is_readable_stanza_type(std::string_view type);

// Wraps the 16-byte `file_key` for `recipient` in an X25519 or ssh-ed25519 stanza.
Stanza wrap_file_key(std::string_view file_key, const Recipient& recipient);

// Unwraps the file key from `stanza` with `identity`, or returns nothing when the stanza is
// not for this identity. Throws fleet::Error for a malformed X25519 or ssh-ed25519 stanza
// (wrong argument count, wrong body size), which age treats as fatal.
std::optional<Bytes> unwrap_file_key(const Stanza& stanza, const Identity& identity);

}  // namespace fleet::age
