// SPDX-License-Identifier: MIT
#pragma once
// The byte sources the tarball reader feeds libarchive from; internal to uploader/tarball.

#include "uploader/hash/sha256.hpp"
#include "uploader/tarball/zstd_stream.hpp"

#include <archive.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fleet::tarball {

// Decompresses a .tar.zst from a file descriptor, hashing and counting every decompressed
// byte, so the hash covers the whole tar including anything after its end marker.
class ZstdSource {
public:
  // Reads `fd` (not owned) until EOF; `max_bytes` caps both the compressed and the tar bytes.
  ZstdSource(int fd, std::uint64_t max_bytes);

  // Next chunk of decompressed bytes; size 0 at the clean end of the stream. Throws
  // fleet::ProtocolError for a corrupt, truncated or oversized stream, fleet::Error when the
  // descriptor cannot be read.
  std::pair<const void*, std::size_t> next();

  std::uint64_t tar_size() const { return m_tar_size; }
  std::string hex_digest() { return m_hasher.hex_digest(); }

  // Set when next() threw inside a libarchive callback, so the real cause is reported.
  std::exception_ptr failure;

private:
  void fill();

  int m_fd;
  std::uint64_t m_max_bytes;
  ZstdDCtx m_dctx;
  std::vector<char> m_in;
  std::vector<char> m_out;
  ZSTD_inBuffer m_input{nullptr, 0, 0};
  bool m_eof = false;
  bool m_output_pending = false;
  std::size_t m_frame_left = 1;  // nonzero until a frame has been fully decoded
  std::uint64_t m_compressed = 0;
  std::uint64_t m_tar_size = 0;
  hash::Sha256 m_hasher;
};

// An uncompressed tar already in memory (rebuilt from a delta), hashed as it is read.
class MemorySource {
public:
  // `tar` must outlive the source; throws fleet::ProtocolError when it exceeds `max_bytes`.
  MemorySource(std::string_view tar, std::uint64_t max_bytes);

  // Next chunk of the tar; size 0 at its end.
  std::pair<const void*, std::size_t> next();

  std::uint64_t tar_size() const { return m_tar.size(); }
  std::string hex_digest() { return m_hasher.hex_digest(); }

  // Unused (next() cannot fail), but the reader treats both sources alike.
  std::exception_ptr failure;

private:
  static constexpr std::size_t k_chunk = 1 << 20;
  std::string_view m_tar;
  std::size_t m_offset = 0;
  hash::Sha256 m_hasher;
};

// An uncompressed tar in a file (kept, or just received), read from its start in chunks and
// hashed as it is read, so checking or unpacking it never holds it whole in memory.
class FileSource {
public:
  // Reads `fd` (not owned) with pread(2), so its offset does not matter and is left alone.
  FileSource(int fd, std::uint64_t max_bytes);

  // Next chunk of the tar; size 0 at its end. Throws fleet::Error when the file cannot be read,
  // fleet::ProtocolError when it grows beyond `max_bytes`.
  std::pair<const void*, std::size_t> next();

  std::uint64_t tar_size() const { return m_offset; }
  std::string hex_digest() { return m_hasher.hex_digest(); }

  std::exception_ptr failure;

private:
  static constexpr std::size_t k_chunk = 1 << 20;
  int m_fd;
  std::uint64_t m_max_bytes;
  std::vector<char> m_buffer;
  std::uint64_t m_offset = 0;
  hash::Sha256 m_hasher;
};

// The archive_read_open() callback for any source: an exception from next() is kept in
// `failure` and turned into a libarchive error, since it must not cross the C library.
template <typename Source>
la_ssize_t source_read(archive* a, void* client, const void** buffer) {
  auto* source = static_cast<Source*>(client);
  try {
    const auto [data, size] = source->next();
    *buffer = data;
    return static_cast<la_ssize_t>(size);
  } catch (const std::exception& e) {
    source->failure = std::current_exception();
    archive_set_error(a, EIO, "%s", e.what());
    return -1;
  }
}

}  // namespace fleet::tarball
