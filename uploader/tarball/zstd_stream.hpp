// SPDX-License-Identifier: MIT
#pragma once

#include <zstd.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace fleet::tarball {

struct ZstdCCtxFree {
  void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
};
struct ZstdDCtxFree {
  void operator()(ZSTD_DCtx* d) const noexcept { ZSTD_freeDCtx(d); }
};
using ZstdCCtx = std::unique_ptr<ZSTD_CCtx, ZstdCCtxFree>;
using ZstdDCtx = std::unique_ptr<ZSTD_DCtx, ZstdDCtxFree>;

// The compression parameters every fleet tarball is written with. Output for a given input is
// identical for any worker count >= 1 but differs from single-threaded mode (workers = 0), so
// the worker count is part of the format and must not be tuned per machine.
inline constexpr int k_zstd_level = 3;
inline constexpr int k_zstd_workers = 2;

// Streams bytes into one zstd frame appended to `out`, with the pinned parameters above and a
// content checksum so corruption is caught by the decoder.
class ZstdCompressor {
public:
  explicit ZstdCompressor(std::string& out);

  // Compresses `size` bytes; throws fleet::Error on a libzstd failure.
  void write(const void* data, std::size_t size);

  // Ends the frame. Call exactly once, after the last write().
  void finish();

private:
  void pump(ZSTD_inBuffer& in, ZSTD_EndDirective mode);

  ZstdCCtx m_cctx;
  std::string& m_out;
  std::vector<char> m_buffer;
};

// One-shot helper with the same parameters as ZstdCompressor.
std::string zstd_compress(std::string_view data);

}  // namespace fleet::tarball
