// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fleet::transfer {

// The first line `fleet-builder receive --hash H` prints: whether it already holds H, and the
// earlier tars it keeps (newest first) that a sender may send a delta against.
struct ReceiveHello {
  bool have = false;
  std::vector<std::string> bases;

  bool operator==(const ReceiveHello&) const = default;
};

// The line a sender writes before the payload: `bytes` bytes of zstd follow, a delta against
// the tar `base` or, when `base` is empty, the whole .tar.zst.
struct PayloadHeader {
  std::string base;
  std::uint64_t bytes = 0;

  bool operator==(const PayloadHeader&) const = default;
};

// One JSON line each, without the newline.
std::string to_line(const ReceiveHello& hello);
std::string to_line(const PayloadHeader& header);

// Parse the lines above from an untrusted peer. Throw fleet::ProtocolError naming what is wrong
// (a hash that is not 64 lowercase hex digits, more than `k_max_bases` bases, a size beyond
// `max_bytes`, a protocol version other than ours).
ReceiveHello parse_receive_hello(std::string_view line);
PayloadHeader parse_payload_header(std::string_view line, std::uint64_t max_bytes);

inline constexpr std::size_t k_max_bases = 16;

}  // namespace fleet::transfer
