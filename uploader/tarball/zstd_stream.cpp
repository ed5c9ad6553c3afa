// SPDX-License-Identifier: MIT
#include "uploader/tarball/zstd_stream.hpp"

#include "uploader/base/error.hpp"

namespace fleet::tarball {

namespace {

void check_zstd(std::size_t result, const char* what) {
  if (ZSTD_isError(result) != 0U) {
    throw Error(std::string("zstd ") + what + " failed: " + ZSTD_getErrorName(result));
  }
}

}  // namespace

ZstdCompressor::ZstdCompressor(std::string& out)
    : m_cctx(ZSTD_createCCtx()), m_out(out), m_buffer(ZSTD_CStreamOutSize()) {
  if (!m_cctx) {
    throw Error("zstd: cannot allocate a compression context (out of memory?)");
  }
  check_zstd(ZSTD_CCtx_setParameter(m_cctx.get(), ZSTD_c_compressionLevel, k_zstd_level), "set level");
  check_zstd(ZSTD_CCtx_setParameter(m_cctx.get(), ZSTD_c_checksumFlag, 1), "enable checksum");
  // A libzstd built without threads rejects nbWorkers; the tarball would then differ from one
  // written elsewhere, which is why tarballs are identified by the hash of the uncompressed tar.
  check_zstd(ZSTD_CCtx_setParameter(m_cctx.get(), ZSTD_c_nbWorkers, k_zstd_workers),
             "set worker count (libzstd built without multithreading?)");
}

void ZstdCompressor::pump(ZSTD_inBuffer& in, ZSTD_EndDirective mode) {
  for (;;) {
    ZSTD_outBuffer out{m_buffer.data(), m_buffer.size(), 0};
    const std::size_t remaining = ZSTD_compressStream2(m_cctx.get(), &out, &in, mode);
    check_zstd(remaining, "compression");
    m_out.append(m_buffer.data(), out.pos);
    const bool done = mode == ZSTD_e_continue ? in.pos == in.size : remaining == 0;
    if (done) {
      return;
    }
  }
}

void ZstdCompressor::write(const void* data, std::size_t size) {
  ZSTD_inBuffer in{data, size, 0};
  pump(in, ZSTD_e_continue);
}

void ZstdCompressor::finish() {
  ZSTD_inBuffer in{nullptr, 0, 0};
  pump(in, ZSTD_e_end);
}

std::string zstd_compress(std::string_view data) {
  std::string out;
  ZstdCompressor compressor(out);
  compressor.write(data.data(), data.size());
  compressor.finish();
  return out;
}

}  // namespace fleet::tarball
