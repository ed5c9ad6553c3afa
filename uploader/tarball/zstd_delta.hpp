// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/tarball/zstd_stream.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace fleet::tarball {

// `target` as a delta against `base`, which both ends hold (an earlier tar of the same tree):
// the lengths of the prefix and suffix they share, then the bytes between them as one zstd
// frame that may refer back into the span of `base` they replace (zstd's "patch-from":
// long-distance matching and a window spanning that span). A one-file change costs about that file's compressed size,
// whatever the tree's size; the frame carries a checksum of what it holds. Throws fleet::Error
// on a libzstd failure.
std::string make_delta(std::string_view base, std::string_view target);

// Reverses make_delta with the same `base`. The result may not exceed `max_size` bytes.
// Throws fleet::ProtocolError for a corrupt or truncated delta, one made against another
// base (as far as its lengths and checksum can tell; the caller verifies the content hash),
// trailing bytes, or output beyond `max_size`.
std::string apply_delta(std::string_view base, std::string_view delta, std::uint64_t max_size);

// Decompresses a whole zstd stream (one or more frames) of at most `max_size` output bytes.
// Throws fleet::ProtocolError as apply_delta does.
std::string zstd_decompress(std::string_view frames, std::uint64_t max_size);

// Rebuilds a tar from a payload that arrives in pieces, a whole zstd stream or a delta, and
// hands the tar to a sink as it is decoded: neither the payload nor the tar is ever whole in
// memory, only the span of the base a delta replaces (which zstd must see at once). Refuses
// what apply_delta() and zstd_decompress() refuse, with the same fleet::ProtocolError.
class TarRebuilder {
public:
  using Sink = std::function<void(std::string_view)>;
  // Reads `length` bytes of the base from `offset` (within its size) into `into`; throws
  // fleet::Error when it cannot.
  using BaseReader = std::function<void(std::uint64_t offset, char* into, std::size_t length)>;

  // For a whole zstd stream of at most `max_size` output bytes.
  TarRebuilder(std::uint64_t max_size, Sink sink);
  // For a delta against a base of `base_size` (> 0) bytes read through `read_base`.
  TarRebuilder(std::uint64_t base_size, BaseReader read_base, std::uint64_t max_size, Sink sink);
  // The decoder refers to memory inside the rebuilder.
  TarRebuilder(const TarRebuilder&) = delete;
  TarRebuilder& operator=(const TarRebuilder&) = delete;

  void feed(std::string_view piece);

  // After the last piece: refuses a payload that stopped short, and sends the rest of the tar.
  void finish();

private:
  void start_delta();
  void start_frame();
  void decode(std::string_view frames);
  void copy_base(std::uint64_t offset, std::uint64_t length);

  std::uint64_t m_max_size;
  Sink m_sink;
  BaseReader m_read_base;
  std::uint64_t m_base_size = 0;
  bool m_is_delta = false;
  // A delta's header, then its frame's header: read before any byte is decoded.
  enum class Stage { delta_header, frame_header, frames };
  Stage m_stage;
  std::string m_header;  // what arrived of the headers
  std::uint64_t m_prefix = 0;
  std::uint64_t m_suffix = 0;
  std::string m_replaced;  // what a delta's frame refers back into
  std::uint64_t m_decoded = 0;
  ZstdDCtx m_dctx;
  std::string m_buffer;
  std::size_t m_frame_left = 0;  // 0 between frames
  std::size_t m_frames_started = 0;
  bool m_output_full = false;
};

}  // namespace fleet::tarball
