// SPDX-License-Identifier: MIT
#include "coordinator/view/display_text.hpp"

namespace fleet::coordinator {
namespace {

bool is_continuation(unsigned char c) { return (c & 0xc0U) == 0x80U; }

// Skips an escape sequence starting at text[i] == ESC and returns the index after it. CSI
// (ESC [ … final) and OSC (ESC ] … BEL or ESC \) are the ones that can move the cursor, retitle
// the window or hide text; for anything else the ESC and the next byte are dropped.
std::size_t skip_escape(std::string_view text, std::size_t i) {
  if (i + 1 >= text.size()) {
    return text.size();
  }
  char kind = text[i + 1];
  std::size_t j = i + 2;
  if (kind == '[') {
    while (j < text.size() && !(text[j] >= 0x40 && text[j] <= 0x7e)) {
      ++j;
    }
    return j < text.size() ? j + 1 : j;
  }
  if (kind == ']') {
    while (j < text.size()) {
      if (text[j] == '\a') {
        return j + 1;
      }
      if (text[j] == '\x1b' && j + 1 < text.size() && text[j + 1] == '\\') {
        return j + 2;
      }
      ++j;
    }
    return j;
  }
  return j;
}

}  // namespace

std::string printable(std::string_view text) {
  // Nix and curl redraw progress with '\r'; only the last state is worth showing.
  auto last_cr = text.find_last_of('\r');
  if (last_cr != std::string_view::npos && last_cr + 1 < text.size()) {
    text.remove_prefix(last_cr + 1);
  }
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == 0x1b) {
      i = skip_escape(text, i);
      continue;
    }
    // C1 controls (U+0080..U+009F) include the single-character CSI some terminals obey.
    if (c == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) < 0xa0 &&
        is_continuation(static_cast<unsigned char>(text[i + 1]))) {
      out += '?';
      i += 2;
      continue;
    }
    if (c == '\t' || c == '\n') {
      out += ' ';
    } else if (c == '\r') {
      // A trailing '\r' only: drop it.
    } else if (c < 0x20 || c == 0x7f) {
      out += '?';
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  return out;
}

std::vector<std::string> printable_lines(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    auto end = text.find('\n');
    lines.push_back(printable(text.substr(0, end)));
    if (end == std::string_view::npos) {
      break;
    }
    text.remove_prefix(end + 1);
  }
  return lines;
}

std::size_t display_width(std::string_view text) {
  std::size_t width = 0;
  for (char c : text) {
    if (!is_continuation(static_cast<unsigned char>(c))) {
      ++width;
    }
  }
  return width;
}

std::string fit_columns(std::string_view text, std::size_t columns) {
  if (display_width(text) <= columns) {
    return std::string(text);
  }
  if (columns == 0) {
    return {};
  }
  std::size_t width = 0;
  std::size_t i = 0;
  for (; i < text.size(); ++i) {
    if (!is_continuation(static_cast<unsigned char>(text[i]))) {
      if (width == columns - 1) {
        break;
      }
      ++width;
    }
  }
  return std::string(text.substr(0, i)) + "…";
}

std::string pad_right(std::string_view text, std::size_t columns) {
  std::string out(text);
  for (std::size_t width = display_width(text); width < columns; ++width) {
    out += ' ';
  }
  return out;
}

}  // namespace fleet::coordinator
