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

// A delta starts with a zstd skippable frame (so zstd tools skip it) holding the lengths of the
// prefix and suffix the target shares with the base, as two little-endian 64-bit numbers.
constexpr std::uint32_t k_skippable_magic = 0x184D2A5E;
constexpr std::size_t k_delta_header_size = 8 + 16;

void put_le(std::string& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) {
    out += static_cast<char>((value >> (8 * i)) & 0xff);
  }
}

std::uint64_t get_le(std::string_view in, std::size_t offset, int bytes) {
  std::uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) {
    value = (value << 8) | static_cast<unsigned char>(in[offset + static_cast<std::size_t>(i)]);
  }
  return value;
}

std::string delta_header(std::uint64_t prefix, std::uint64_t suffix) {
  std::string header;
  put_le(header, k_skippable_magic, 4);
  put_le(header, 16, 4);
  put_le(header, prefix, 8);
  put_le(header, suffix, 8);
  return header;
}

std::pair<std::uint64_t, std::uint64_t> parse_delta_header(std::string_view delta, std::uint64_t base_size) {
  if (delta.size() < k_delta_header_size || get_le(delta, 0, 4) != k_skippable_magic || get_le(delta, 4, 4) != 16) {
    throw ProtocolError("the delta does not start with fleet's delta header: truncated or not a delta");
  }
  const std::uint64_t prefix = get_le(delta, 8, 8);
  const std::uint64_t suffix = get_le(delta, 16, 8);
  if (prefix > base_size || suffix > base_size - prefix) {
    throw ProtocolError("the delta copies more of its base than the base holds: made against another base");
  }
  return {prefix, suffix};
}

// `base` empty: plain frames; else exactly one frame that refers back into `base`.
std::string decompress(std::string_view base, std::string_view frames, std::uint64_t max_size, bool is_delta) {
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
      if (is_delta && frames_started > 0) {
        throw ProtocolError("delta has bytes after its zstd frame");
      }
      if (is_delta) {
        // A prefix applies to the next frame only: a delta is exactly one frame.
        check(ZSTD_DCtx_refPrefix(dctx.get(), base.data(), base.size()), "reference the base");
      }
      ++frames_started;
    }
    ZSTD_outBuffer chunk{buffer.data(), buffer.size(), 0};
    frame_left = ZSTD_decompressStream(dctx.get(), &chunk, &in);
    if (ZSTD_isError(frame_left) != 0U) {
      throw ProtocolError(std::string(is_delta ? "delta does not apply to its base: " : "tarball is not valid zstd: ") +
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
  // Most changes touch a few files: what precedes and follows them in the tar is copied from
  // the base by length alone, so zstd's per-block cost (about 15 bytes per 128 KiB even of a
  // perfect match) is paid for the changed span only, not for the whole tree.
  const std::size_t shared = std::min(base.size(), target.size());
  const std::size_t prefix =
      static_cast<std::size_t>(std::mismatch(base.begin(), base.begin() + static_cast<std::ptrdiff_t>(shared), target.begin()).first -
                               base.begin());
  const std::size_t suffix = static_cast<std::size_t>(
      std::mismatch(base.rbegin(), base.rbegin() + static_cast<std::ptrdiff_t>(shared - prefix), target.rbegin()).first -
      base.rbegin());
  const std::string_view middle = target.substr(prefix, target.size() - prefix - suffix);
  // What the middle replaced: where the old versions of the changed files are, and all a
  // matcher needs to index (the whole base would cost a pass over it on both ends).
  const std::string_view replaced = base.substr(prefix, base.size() - prefix - suffix);

  ZstdCCtx cctx(ZSTD_createCCtx());
  if (!cctx) {
    throw Error("zstd: cannot allocate a compression context (out of memory?)");
  }
  check(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, k_delta_level), "set level");
  check(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1), "enable checksum");
  check(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_windowLog, static_cast<int>(window_log(replaced.size() + middle.size()))),
        "set the window");
  check(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_enableLongDistanceMatching, 1), "enable long-distance matching");
  check(ZSTD_CCtx_refPrefix(cctx.get(), replaced.data(), replaced.size()), "reference the base");
  std::string out = delta_header(prefix, suffix);
  const std::size_t header_size = out.size();
  out.resize(header_size + ZSTD_compressBound(middle.size()));
  const std::size_t size =
      ZSTD_compress2(cctx.get(), out.data() + header_size, out.size() - header_size, middle.data(), middle.size());
  check(size, "delta compression");
  out.resize(header_size + size);
  return out;
}

std::string apply_delta(std::string_view base, std::string_view delta, std::uint64_t max_size) {
  if (base.empty()) {
    throw Error("internal error: a delta needs a non-empty base");
  }
  const auto [prefix, suffix] = parse_delta_header(delta, base.size());
  if (prefix + suffix > max_size) {
    throw ProtocolError("tarball unpacks to more than the limit of " + std::to_string(max_size) + " bytes");
  }
  const std::string_view replaced = base.substr(prefix, base.size() - prefix - suffix);
  std::string middle = decompress(replaced, delta.substr(k_delta_header_size), max_size - prefix - suffix, true);
  std::string out;
  out.reserve(prefix + middle.size() + suffix);
  out.append(base.substr(0, prefix)).append(middle).append(base.substr(base.size() - suffix));
  return out;
}

std::string zstd_decompress(std::string_view frames, std::uint64_t max_size) {
  return decompress({}, frames, max_size, false);
}

}  // namespace fleet::tarball
