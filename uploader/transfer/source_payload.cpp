// SPDX-License-Identifier: MIT
#include "uploader/transfer/source_payload.hpp"

#include "uploader/tarball/zstd_delta.hpp"
#include "uploader/tarball/zstd_stream.hpp"

namespace fleet::transfer {

HeldSource::HeldSource(std::string hash, std::optional<std::string> tar, std::optional<std::string> compressed)
    : m_hash(std::move(hash)), m_tar(std::move(tar)), m_compressed(std::move(compressed)) {}

const std::string& HeldSource::tar() {
  if (!m_tar) {
    m_tar = tarball::zstd_decompress(*m_compressed, k_max_tar_bytes);
  }
  return *m_tar;
}

const std::string& HeldSource::compressed() {
  if (!m_compressed) {
    m_compressed = tarball::zstd_compress(*m_tar);
  }
  return *m_compressed;
}

Payload choose_payload(const ReceiveHello& hello, HeldSource& source, const BaseLookup& lookup) {
  for (const auto& base_hash : hello.bases) {
    if (base_hash == source.hash()) {
      continue;
    }
    auto base = lookup(base_hash);
    if (!base || base->empty()) {
      continue;
    }
    std::string delta = tarball::make_delta(*base, source.tar());
    // Even against an unrelated base a delta is about the size of the tar compressed alone, so
    // a sender without the .tar.zst at hand does not compress the tar a second time to compare.
    if (!source.has_compressed() || delta.size() * 2 <= source.compressed().size()) {
      return {PayloadHeader{base_hash, delta.size()}, std::move(delta)};
    }
    break;
  }
  return {PayloadHeader{"", source.compressed().size()}, source.compressed()};
}

PayloadCache::PayloadCache(HeldSource source, BaseLookup lookup)
    : m_source(std::move(source)), m_lookup(std::move(lookup)) {}

std::shared_ptr<const Payload> PayloadCache::payload_for(const ReceiveHello& hello) {
  std::lock_guard lock(m_mutex);
  auto& payload = m_payloads[hello.bases];
  if (!payload) {
    payload = std::make_shared<const Payload>(choose_payload(hello, m_source, m_lookup));
  }
  return payload;
}

}  // namespace fleet::transfer
