// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/age/codec.hpp"

#include <string_view>

namespace fleet::age {

// True when `file` (leading whitespace allowed) starts with the age armor's BEGIN line.
bool is_armored(std::string_view file);

// Wraps a binary age file in the ASCII armor (strict PEM, 64 columns, padded base64).
std::string armor(std::string_view binary);

// Unwraps an armored file strictly: exact BEGIN/END lines, 64-column lines with only the last
// shorter, canonical padded base64, only whitespace around. Throws fleet::Error.
Bytes dearmor(std::string_view text);

}  // namespace fleet::age
