// SPDX-License-Identifier: MIT
#include "uploader/tarball/zstd_delta.hpp"

#include "uploader/base/error.hpp"
#include "uploader/tarball/zstd_stream.hpp"

#include <algorithm>
#include <bit>

namespace fleet::tarball {

namespace {

// The level the tarballs use: a delta is small anyway, and the sender may be a slow laptop.
constexpr int k_delta_level = k_zstd_level;
constexpr unsigned k_min_window_log = 20;
constexpr unsigned k_default_window_log_max = 27;

void check(std::size_t result, const char* what) {
  if (ZSTD_isError(result) != 0U) {
    throw Error(std::string("zstd ") + what + " failed: " + ZSTD_getErrorName(result));
  }
}

// Matches must reach from the end of `target` back to the start of `base`.
unsigned window_log(std::uint64_t span) {
  const auto log = static_cast<unsigned>(std::bit_width(span == 0 ? 1 : span - 1));
  const auto max_log = static_cast<unsigned>(ZSTD_cParam_getBounds(ZSTD_c_windowLog).upperBound);
  return std::clamp(log, k_min_window_log, max_log);
}

std::string decompress(std::string_view base, std::string_view frames, std::uint64_t max_size) {
  ZstdDCtx dctx(ZSTD_createDCtx());
  if (!dctx) {
    throw Error("zstd: cannot allocate a decompression context (out of memory?)");
  }
  // Never below zstd's default limit (2^27), which any tarball frame fits; a delta's window
  // spans its base too.
  check(ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax,
                               static_cast<int>(std::max(k_default_window_log_max, window_log(base.size() + max_size)))),
        "set the window limit");
  std::string out;
  std::string buffer(ZSTD_DStreamOutSize(), '\0');
  ZSTD_inBuffer in{frames.data(), frames.size(), 0};
  std::size_t frame_left = 0;  // 0 between frames
  std::size_t frames_started = 0;
  bool output_full = false;
  while (in.pos < in.size || (output_full && frame_left != 0)) {
    if (frame_left == 0 && in.pos < in.size) {
      if (!base.empty() && frames_started > 0) {
        throw ProtocolError("delta has bytes after its zstd frame");
      }
      if (!base.empty()) {
        // A prefix applies to the next frame only: a delta is exactly one frame.
        check(ZSTD_DCtx_refPrefix(dctx.get(), base.data(), base.size()), "reference the base");
      }
      ++frames_started;
    }
    ZSTD_outBuffer chunk{buffer.data(), buffer.size(), 0};
    frame_left = ZSTD_decompressStream(dctx.get(), &chunk, &in);
    if (ZSTD_isError(frame_left) != 0U) {
      throw ProtocolError(std::string(base.empty() ? "tarball is not valid zstd: " : "delta does not apply to its base: ") +
                          ZSTD_getErrorName(frame_left));
    }
    if (out.size() + chunk.pos > max_size) {
      throw ProtocolError("tarball unpacks to more than the limit of " + std::to_string(max_size) + " bytes");
    }
    out.append(buffer.data(), chunk.pos);
    output_full = chunk.pos == chunk.size;
  }
  if (frames_started == 0 || frame_left != 0) {
    throw ProtocolError("zstd stream ends in the middle of a frame: truncated transfer");
  }
  return out;
}

}  // namespace

std::string make_delta(std::string_view base, std::string_view target) {
  ZstdCCtx cctx(ZSTD_createCCtx());
  if (!cctx) {
    throw Error("zstd: cannot allocate a compression context (out of memory?)");
  }
  check(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, k_delta_level), "set level");
  check(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1), "enable checksum");
  check(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_windowLog, static_cast<int>(window_log(base.size() + target.size()))),
        "set the window");
  check(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_enableLongDistanceMatching, 1), "enable long-distance matching");
  check(ZSTD_CCtx_refPrefix(cctx.get(), base.data(), base.size()), "reference the base");
  std::string out(ZSTD_compressBound(target.size()), '\0');
  const std::size_t size = ZSTD_compress2(cctx.get(), out.data(), out.size(), target.data(), target.size());
  check(size, "delta compression");
  out.resize(size);
  return out;
}

std::string apply_delta(std::string_view base, std::string_view frame, std::uint64_t max_size) {
  if (base.empty()) {
    throw Error("internal error: a delta needs a non-empty base");
  }
  return decompress(base, frame, max_size);
}

std::string zstd_decompress(std::string_view frames, std::uint64_t max_size) {
  return decompress({}, frames, max_size);
}

}  // namespace fleet::tarball
