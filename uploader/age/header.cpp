// SPDX-License-Identifier: MIT
#include "uploader/age/header.hpp"

#include "uploader/base/error.hpp"
#include "uploader/age/hkdf.hpp"

namespace fleet::age {
namespace {

constexpr std::string_view k_version_line = "age-encryption.org/v1\n";
constexpr std::size_t k_max_header = 1 << 20;
constexpr std::size_t k_max_stanzas = 1024;
constexpr std::size_t k_columns = 64;

bool is_arg(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (c < 33 || c > 126) {
      return false;
    }
  }
  return true;
}

class LineReader {
public:
  explicit LineReader(std::string_view file) : m_file(file) {}

  // The next line without its '\n'; throws when there is none within the header size cap.
  std::string_view next() {
    auto nl = m_file.find('\n', m_pos);
    if (nl == std::string_view::npos || nl >= k_max_header) {
      throw Error("the age header is truncated or too large (no end of line)");
    }
    auto line = m_file.substr(m_pos, nl - m_pos);
    m_pos = nl + 1;
    ++m_number;
    return line;
  }
  std::size_t pos() const { return m_pos; }
  int number() const { return m_number; }

private:
  std::string_view m_file;
  std::size_t m_pos = 0;
  int m_number = 0;
};

}  // namespace

Header parse_header(std::string_view file) {
  if (file.substr(0, k_version_line.size()) != k_version_line) {
    throw Error("not an age file: the first line is not 'age-encryption.org/v1'");
  }
  LineReader lines(file);
  lines.next();
  Header header;
  std::string_view line = lines.next();
  while (line.substr(0, 3) == "-> ") {
    if (header.stanzas.size() >= k_max_stanzas) {
      throw Error("the age header has more than " + std::to_string(k_max_stanzas) + " stanzas");
    }
    std::string where = "age header line " + std::to_string(lines.number());
    if (line.size() < 4) {
      throw Error(where + " is a stanza without a type");
    }
    Stanza stanza;
    std::string_view rest = line.substr(3);
    std::vector<std::string> parts;
    for (std::size_t start = 0;;) {
      auto space = rest.find(' ', start);
      auto part = rest.substr(start, space == std::string_view::npos ? std::string_view::npos : space - start);
      if (!is_arg(part)) {
        throw Error(where + " has an empty or non-printable stanza argument");
      }
      parts.emplace_back(part);
      if (space == std::string_view::npos) {
        break;
      }
      start = space + 1;
    }
    stanza.type = parts.front();
    stanza.args.assign(parts.begin() + 1, parts.end());
    std::string body_b64;
    for (;;) {
      auto body_line = lines.next();
      if (body_line.size() > k_columns) {
        throw Error("age header line " + std::to_string(lines.number()) + " is a stanza body line over 64 columns");
      }
      body_b64.append(body_line);
      if (body_line.size() < k_columns) {
        break;
      }
    }
    stanza.body = base64_decode_raw(body_b64, "the body of the stanza at " + where);
    header.stanzas.push_back(std::move(stanza));
    line = lines.next();
  }
  if (header.stanzas.empty()) {
    throw Error("the age header has no recipient stanza");
  }
  if (line.substr(0, 4) != "--- " || line.size() != 4 + 43) {
    throw Error("age header line " + std::to_string(lines.number()) + " is neither a stanza nor the MAC line");
  }
  header.mac = base64_decode_raw(line.substr(4), "the header MAC");
  header.payload_offset = lines.pos();
  header.mac_input = Bytes(file.substr(0, header.payload_offset - line.size() - 1 + 3));
  return header;
}

Bytes header_without_mac(const std::vector<Stanza>& stanzas) {
  Bytes out(k_version_line);
  for (const auto& stanza : stanzas) {
    out += "-> " + stanza.type;
    for (const auto& arg : stanza.args) {
      out += " " + arg;
    }
    out += "\n";
    std::string b64 = base64_encode_raw(stanza.body);
    // The body ends at its first line under 64 columns, so a full last line needs an empty one.
    for (std::size_t i = 0; i <= b64.size(); i += k_columns) {
      out += b64.substr(i, k_columns) + "\n";
    }
  }
  out += "---";
  return out;
}

Bytes header_mac(std::string_view file_key, std::string_view mac_input) {
  Bytes key = hkdf_sha256(file_key, "", "header", 32);
  Bytes mac = hmac_sha256(key, mac_input);
  return mac;
}

}  // namespace fleet::age
