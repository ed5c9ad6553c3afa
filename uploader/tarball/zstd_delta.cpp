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
// ZSTD_FRAMEHEADERSIZE_MAX of the zstd format, outside libzstd's stable API.
constexpr std::size_t k_max_frame_header_size = 18;

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

TarRebuilder::TarRebuilder(std::uint64_t max_size, Sink sink)
    : m_max_size(max_size), m_sink(std::move(sink)), m_stage(Stage::frames), m_dctx(ZSTD_createDCtx()),
      m_buffer(ZSTD_DStreamOutSize(), '\0') {
  if (!m_dctx) {
    throw Error("zstd: cannot allocate a decompression context (out of memory?)");
  }
  // zstd's default window limit (2^27) stays: every tarball frame fits it, and a hostile frame
  // asking for more is refused before the decoder allocates it.
}

TarRebuilder::TarRebuilder(std::uint64_t base_size, BaseReader read_base, std::uint64_t max_size, Sink sink)
    : TarRebuilder(max_size, std::move(sink)) {
  if (base_size == 0) {
    throw Error("internal error: a delta needs a non-empty base");
  }
  m_read_base = std::move(read_base);
  m_base_size = base_size;
  m_is_delta = true;
  m_stage = Stage::delta_header;
}

void TarRebuilder::feed(std::string_view piece) {
  if (m_stage == Stage::frames) {
    decode(piece);
    return;
  }
  m_header.append(piece);
  if (m_stage == Stage::delta_header && m_header.size() >= k_delta_header_size) {
    start_delta();
  }
  if (m_stage == Stage::frame_header && m_header.size() >= k_delta_header_size + k_max_frame_header_size) {
    start_frame();
  }
}

void TarRebuilder::start_delta() {
  if (get_le(m_header, 0, 4) != k_skippable_magic || get_le(m_header, 4, 4) != 16) {
    throw ProtocolError("the delta does not start with fleet's delta header: truncated or not a delta");
  }
  m_prefix = get_le(m_header, 8, 8);
  m_suffix = get_le(m_header, 16, 8);
  if (m_prefix > m_base_size || m_suffix > m_base_size - m_prefix) {
    throw ProtocolError("the delta copies more of its base than the base holds: made against another base");
  }
  if (m_prefix + m_suffix > m_max_size) {
    throw ProtocolError("tarball unpacks to more than the limit of " + std::to_string(m_max_size) + " bytes");
  }
  m_stage = Stage::frame_header;
  m_replaced.resize(static_cast<std::size_t>(m_base_size - m_prefix - m_suffix));
  m_read_base(m_prefix, m_replaced.data(), m_replaced.size());
  copy_base(0, m_prefix);
}

void TarRebuilder::start_frame() {
  const std::string frame = m_header.substr(k_delta_header_size);
  m_header.clear();
  const unsigned long long size = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (size == ZSTD_CONTENTSIZE_ERROR) {
    throw ProtocolError("delta does not apply to its base: what follows its header is not a zstd frame");
  }
  // make_delta() always says: without it, the window a frame asks for could not be bounded.
  if (size == ZSTD_CONTENTSIZE_UNKNOWN) {
    throw ProtocolError("the delta's zstd frame does not say how many bytes it holds: not a delta fleet made");
  }
  if (size > m_max_size - m_prefix - m_suffix) {
    throw ProtocolError("tarball unpacks to more than the limit of " + std::to_string(m_max_size) + " bytes");
  }
  // The window spans what the frame refers back into and what it holds, as make_delta() sets it:
  // a frame asking for more is refused before the decoder allocates it.
  check(ZSTD_DCtx_setParameter(m_dctx.get(), ZSTD_d_windowLogMax,
                               static_cast<int>(std::max(k_default_window_log_max, window_log(m_replaced.size() + size)))),
        "set the window limit");
  m_stage = Stage::frames;
  decode(frame);
}

void TarRebuilder::decode(std::string_view frames) {
  const std::uint64_t limit = m_max_size - m_prefix - m_suffix;
  ZSTD_inBuffer in{frames.data(), frames.size(), 0};
  while (in.pos < in.size || (m_output_full && m_frame_left != 0)) {
    if (m_frame_left == 0 && in.pos < in.size) {
      if (m_is_delta && m_frames_started > 0) {
        throw ProtocolError("delta has bytes after its zstd frame");
      }
      if (m_is_delta) {
        // A prefix applies to the next frame only: a delta is exactly one frame.
        check(ZSTD_DCtx_refPrefix(m_dctx.get(), m_replaced.data(), m_replaced.size()), "reference the base");
      }
      ++m_frames_started;
    }
    ZSTD_outBuffer chunk{m_buffer.data(), m_buffer.size(), 0};
    m_frame_left = ZSTD_decompressStream(m_dctx.get(), &chunk, &in);
    if (ZSTD_isError(m_frame_left) != 0U) {
      throw ProtocolError(std::string(m_is_delta ? "delta does not apply to its base: " : "tarball is not valid zstd: ") +
                          ZSTD_getErrorName(m_frame_left));
    }
    m_decoded += chunk.pos;
    if (m_decoded > limit) {
      throw ProtocolError("tarball unpacks to more than the limit of " + std::to_string(m_max_size) + " bytes");
    }
    if (chunk.pos > 0) {
      m_sink(std::string_view(m_buffer.data(), chunk.pos));
    }
    m_output_full = chunk.pos == chunk.size;
  }
}

void TarRebuilder::finish() {
  if (m_stage == Stage::delta_header) {
    throw ProtocolError("the delta does not start with fleet's delta header: truncated or not a delta");
  }
  if (m_stage == Stage::frame_header) {
    start_frame();  // a frame shorter than the longest header: all of it is here
  }
  if (m_frames_started == 0 || m_frame_left != 0) {
    throw ProtocolError("zstd stream ends in the middle of a frame: truncated transfer");
  }
  copy_base(m_base_size - m_suffix, m_suffix);
}

void TarRebuilder::copy_base(std::uint64_t offset, std::uint64_t length) {
  std::string piece(static_cast<std::size_t>(std::min<std::uint64_t>(length, 1 << 20)), '\0');
  for (std::uint64_t done = 0; done < length;) {
    const auto size = static_cast<std::size_t>(std::min<std::uint64_t>(piece.size(), length - done));
    m_read_base(offset + done, piece.data(), size);
    m_sink(std::string_view(piece.data(), size));
    done += size;
  }
}

std::string apply_delta(std::string_view base, std::string_view delta, std::uint64_t max_size) {
  std::string out;
  TarRebuilder rebuilder(
      base.size(),
      [base](std::uint64_t offset, char* into, std::size_t length) { base.copy(into, length, offset); },
      max_size, [&out](std::string_view piece) { out.append(piece); });
  rebuilder.feed(delta);
  rebuilder.finish();
  return out;
}

std::string zstd_decompress(std::string_view frames, std::uint64_t max_size) {
  std::string out;
  TarRebuilder rebuilder(max_size, [&out](std::string_view piece) { out.append(piece); });
  rebuilder.feed(frames);
  rebuilder.finish();
  return out;
}

}  // namespace fleet::tarball
