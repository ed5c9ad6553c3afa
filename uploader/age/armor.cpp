// SPDX-License-Identifier: MIT
#include "uploader/age/armor.hpp"

#include "uploader/base/error.hpp"

#include <vector>

namespace fleet::age {
namespace {

constexpr std::string_view k_begin = "-----BEGIN AGE ENCRYPTED FILE-----";
constexpr std::string_view k_end = "-----END AGE ENCRYPTED FILE-----";
constexpr std::size_t k_columns = 64;

std::string_view trim(std::string_view s) {
  constexpr std::string_view k_space = " \t\r\n";
  auto first = s.find_first_not_of(k_space);
  if (first == std::string_view::npos) {
    return {};
  }
  return s.substr(first, s.find_last_not_of(k_space) - first + 1);
}

}  // namespace

bool is_armored(std::string_view file) {
  return trim(file.substr(0, 1024)).substr(0, k_begin.size()) == k_begin;
}

std::string armor(std::string_view binary) {
  std::string b64 = base64_encode_padded(binary);
  std::string out(k_begin);
  out += "\n";
  for (std::size_t i = 0; i < b64.size(); i += k_columns) {
    out += b64.substr(i, k_columns) + "\n";
  }
  out += std::string(k_end) + "\n";
  return out;
}

Bytes dearmor(std::string_view text) {
  auto body = trim(text);
  if (body.substr(0, k_begin.size()) != k_begin || body.size() < k_begin.size() + k_end.size() ||
      body.substr(body.size() - k_end.size()) != k_end) {
    throw Error("the armored age file lacks its BEGIN or END AGE ENCRYPTED FILE line");
  }
  std::vector<std::string_view> lines;
  auto inner = body.substr(k_begin.size(), body.size() - k_begin.size() - k_end.size());
  // Line ends may be CRLF (a file saved on Windows is still valid age); a line's '\r' is dropped
  // below, the BEGIN line's here.
  if (inner.substr(0, 2) == "\r\n") {
    inner.remove_prefix(1);
  }
  if (inner.size() < 2 || inner.front() != '\n' || inner.back() != '\n') {
    throw Error("the armored age file has text on its BEGIN or END line");
  }
  inner = inner.substr(1, inner.size() - 2);
  std::string b64;
  std::size_t start = 0;
  bool short_seen = false;
  while (start <= inner.size()) {
    auto nl = inner.find('\n', start);
    auto line = inner.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (short_seen || line.empty() || line.size() > k_columns) {
      throw Error("the armored age file has a line of the wrong length (64 columns, only the last shorter)");
    }
    short_seen = line.size() < k_columns;
    b64.append(line);
    if (nl == std::string_view::npos) {
      break;
    }
    start = nl + 1;
  }
  return base64_decode_padded(b64, "the armored age file");
}

}  // namespace fleet::age
