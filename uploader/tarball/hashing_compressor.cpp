// SPDX-License-Identifier: MIT
#include "uploader/tarball/hashing_compressor.hpp"

#include "uploader/base/error.hpp"
#include "uploader/hash/sha256.hpp"
#include "uploader/tarball/zstd_stream.hpp"

#include <algorithm>
#include <cstring>

namespace fleet::tarball {

namespace {

constexpr std::size_t k_chunk_size = 1 << 20;
// Chunks queued or being filled at once: enough to ride out a slow moment on either side,
// small enough that memory stays a few MiB.
constexpr std::size_t k_chunks_in_flight = 4;

}  // namespace

HashingCompressor::HashingCompressor(std::string& out) {
  m_current.reserve(k_chunk_size);
  m_thread = std::thread([this, &out] { run(out); });
}

HashingCompressor::~HashingCompressor() { stop_thread(); }

void HashingCompressor::stop_thread() {
  {
    std::lock_guard lock(m_mutex);
    m_ending = true;
    if (!m_done && m_error.empty()) {
      m_error = "abandoned";
    }
  }
  m_changed.notify_all();
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

void HashingCompressor::throw_failure() const {
  if (m_failure) {
    std::rethrow_exception(m_failure);
  }
  throw Error(m_error);
}

void HashingCompressor::write(const void* data, std::size_t size) {
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const std::size_t take = std::min(size, k_chunk_size - m_current.size());
    m_current.insert(m_current.end(), bytes, bytes + take);
    bytes += take;
    size -= take;
    if (m_current.size() == k_chunk_size) {
      hand_over();
    }
  }
}

void HashingCompressor::hand_over() {
  std::unique_lock lock(m_mutex);
  m_changed.wait(lock, [this] { return !m_error.empty() || m_full.size() + 1 < k_chunks_in_flight; });
  if (!m_error.empty()) {
    throw_failure();
  }
  m_full.push_back(std::move(m_current));
  if (m_free.empty()) {
    m_current = Chunk();
    m_current.reserve(k_chunk_size);
  } else {
    m_current = std::move(m_free.back());
    m_free.pop_back();
  }
  lock.unlock();
  m_changed.notify_all();
}

std::string HashingCompressor::finish() {
  if (!m_current.empty()) {
    hand_over();
  }
  {
    std::unique_lock lock(m_mutex);
    m_ending = true;
    m_changed.notify_all();
    m_changed.wait(lock, [this] { return m_done || !m_error.empty(); });
    if (!m_error.empty()) {
      throw_failure();
    }
  }
  m_thread.join();
  return m_digest;
}

void HashingCompressor::run(std::string& out) {
  try {
    hash::Sha256 hasher;
    ZstdCompressor compressor(out);
    for (;;) {
      Chunk chunk;
      {
        std::unique_lock lock(m_mutex);
        m_changed.wait(lock, [this] { return !m_full.empty() || m_ending; });
        if (!m_error.empty()) {
          return;  // abandoned by the destructor
        }
        if (m_full.empty()) {
          break;  // ending, and everything was processed
        }
        chunk = std::move(m_full.front());
        m_full.pop_front();
      }
      m_changed.notify_all();
      hasher.update(chunk.data(), chunk.size());
      compressor.write(chunk.data(), chunk.size());
      chunk.clear();
      std::lock_guard lock(m_mutex);
      m_free.push_back(std::move(chunk));
    }
    compressor.finish();
    std::string digest = hasher.hex_digest();
    std::lock_guard lock(m_mutex);
    m_digest = std::move(digest);
    m_done = true;
  } catch (const std::exception& e) {
    // Nothing may leave the thread; the exception is handed to the writer's thread instead.
    std::lock_guard lock(m_mutex);
    m_error = e.what();
    m_failure = std::current_exception();
  }
  m_changed.notify_all();
}

}  // namespace fleet::tarball
