// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace fleet::coordinator {

// Makes one line of untrusted text (a build log line, an agent's message) safe to print on a
// terminal: escape sequences are removed, only what follows the last carriage return is kept
// (as a terminal would show it), tabs and newlines become spaces, other control characters '?'.
std::string printable(std::string_view text);

// Splits text at '\n' (a trailing newline adds no empty line); each line is made printable.
std::vector<std::string> printable_lines(std::string_view text);

// Number of terminal columns the text takes, counted as one per UTF-8 code point.
std::size_t display_width(std::string_view text);

// The text cut to at most `columns` columns, ending in "…" when it was cut; never splits a
// UTF-8 sequence.
std::string fit_columns(std::string_view text, std::size_t columns);

// The text padded with spaces on the right to `columns` columns.
std::string pad_right(std::string_view text, std::size_t columns);

}  // namespace fleet::coordinator
