// SPDX-License-Identifier: MIT
// What fleet reads of age: file headers (binary and armored), bech32 recipients and identities,
// and OpenSSH private keys. The first byte picks the reader; any input must end in a value or a
// fleet::Error.
#include "uploader/age/armor.hpp"
#include "uploader/age/bech32.hpp"
#include "uploader/age/header.hpp"
#include "uploader/age/keys.hpp"
#include "uploader/age/ssh_key.hpp"
#include "uploader/base/error.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using namespace fleet;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    switch (data[0] % 5) {
    case 0: {
      const std::string binary = age::is_armored(text) ? age::dearmor(text) : std::string(text);
      age::parse_header(binary);
      break;
    }
    case 1:
      age::bech32_decode(text, "the fuzzed key");
      break;
    case 2:
      age::parse_recipient(text);
      break;
    case 3:
      age::parse_identities(text, "the fuzzed identity file");
      break;
    default:
      age::parse_openssh_private_key(text, "the fuzzed key");
      break;
    }
  } catch (const Error&) {
  }
  return 0;
}
