// SPDX-License-Identifier: MIT
#include "uploader/tarball/tar_source.hpp"

#include "uploader/base/error.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace fleet::tarball {

ZstdSource::ZstdSource(int fd, std::uint64_t max_bytes)
    : m_fd(fd), m_max_bytes(max_bytes), m_dctx(ZSTD_createDCtx()), m_in(ZSTD_DStreamInSize()),
      m_out(ZSTD_DStreamOutSize()) {
  if (!m_dctx) {
    throw Error("zstd: cannot allocate a decompression context (out of memory?)");
  }
}

std::pair<const void*, std::size_t> ZstdSource::next() {
  for (;;) {
    if (m_input.pos == m_input.size && !m_output_pending) {
      if (m_eof) {
        if (m_frame_left != 0) {
          throw ProtocolError("tarball stream ended in the middle of a zstd frame (" +
                              std::to_string(m_compressed) + " compressed bytes received): truncated upload");
        }
        return {nullptr, 0};
      }
      fill();
      continue;
    }
    ZSTD_outBuffer out{m_out.data(), m_out.size(), 0};
    const std::size_t result = ZSTD_decompressStream(m_dctx.get(), &out, &m_input);
    if (ZSTD_isError(result) != 0U) {
      throw ProtocolError(std::string("tarball stream is not valid zstd after ") + std::to_string(m_compressed) +
                          " compressed bytes: " + ZSTD_getErrorName(result));
    }
    m_frame_left = result;
    m_output_pending = out.pos == out.size;
    if (out.pos > 0) {
      m_tar_size += out.pos;
      if (m_tar_size > m_max_bytes) {
        throw ProtocolError("tarball unpacks to more than the limit of " + std::to_string(m_max_bytes) + " bytes");
      }
      m_hasher.update(m_out.data(), out.pos);
      return {m_out.data(), out.pos};
    }
  }
}

void ZstdSource::fill() {
  ssize_t n = 0;
  do {
    n = ::read(m_fd, m_in.data(), m_in.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    throw Error(std::string("cannot read the tarball stream: ") + std::strerror(errno));
  }
  m_eof = n == 0;
  m_compressed += static_cast<std::uint64_t>(n);
  // Skippable frames decode to nothing, so the output cap alone would not bound the input.
  if (m_compressed > m_max_bytes) {
    throw ProtocolError("tarball stream is longer than the limit of " + std::to_string(m_max_bytes) + " bytes");
  }
  m_input = ZSTD_inBuffer{m_in.data(), static_cast<std::size_t>(n), 0};
}

MemorySource::MemorySource(std::string_view tar, std::uint64_t max_bytes) : m_tar(tar) {
  if (tar.size() > max_bytes) {
    throw ProtocolError("tarball unpacks to more than the limit of " + std::to_string(max_bytes) + " bytes");
  }
}

std::pair<const void*, std::size_t> MemorySource::next() {
  const std::size_t size = std::min(k_chunk, m_tar.size() - m_offset);
  const char* data = m_tar.data() + m_offset;
  m_offset += size;
  m_hasher.update(data, size);
  return {data, size};
}

FileSource::FileSource(int fd, std::uint64_t max_bytes) : m_fd(fd), m_max_bytes(max_bytes), m_buffer(k_chunk) {}

std::pair<const void*, std::size_t> FileSource::next() {
  ssize_t n = 0;
  do {
    n = ::pread(m_fd, m_buffer.data(), m_buffer.size(), static_cast<off_t>(m_offset));
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    throw Error(std::string("cannot read the tar: ") + std::strerror(errno));
  }
  m_offset += static_cast<std::uint64_t>(n);
  if (m_offset > m_max_bytes) {
    throw ProtocolError("tarball unpacks to more than the limit of " + std::to_string(m_max_bytes) + " bytes");
  }
  m_hasher.update(m_buffer.data(), static_cast<std::size_t>(n));
  return {m_buffer.data(), static_cast<std::size_t>(n)};
}

}  // namespace fleet::tarball
