// SPDX-License-Identifier: MIT
// zstd deltas: the input's first half is a base, its second half both a target (a delta made and
// applied must give it back) and a hostile delta (applying it must end in bytes or a
// fleet::ProtocolError, within the size bound).
#include "uploader/base/error.hpp"
#include "uploader/tarball/zstd_delta.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const std::string_view base = all.substr(0, size / 2);
  const std::string_view second = all.substr(size / 2);
  if (base.empty()) {
    return 0;  // deltas are made against an earlier tar, never an empty one
  }
  const std::string delta = fleet::tarball::make_delta(base, second);
  if (fleet::tarball::apply_delta(base, delta, second.size()) != second) {
    std::abort();
  }
  try {
    auto out = fleet::tarball::apply_delta(base, second, 1 << 20);
    if (out.size() > (1 << 20)) {
      std::abort();
    }
  } catch (const fleet::ProtocolError&) {
  }
  return 0;
}
