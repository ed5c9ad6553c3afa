// SPDX-License-Identifier: MIT
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace fleet::tarball {

// Hashes (SHA-256) and compresses (ZstdCompressor, pinned parameters) a byte stream on a
// background thread, so the caller goes on reading files meanwhile: the same overlap
// `tar | zstd` gets from being two processes. Not copyable; one writer thread.
class HashingCompressor {
public:
  // Compressed bytes are appended to `out`, which must not be touched before finish() returns.
  explicit HashingCompressor(std::string& out);
  HashingCompressor(const HashingCompressor&) = delete;
  HashingCompressor& operator=(const HashingCompressor&) = delete;
  // Stops the thread; what was not finished is discarded.
  ~HashingCompressor();

  // Queues a copy of `size` bytes; blocks while the thread is behind. Throws fleet::Error when
  // the thread failed (hashing or compression).
  void write(const void* data, std::size_t size);

  // Ends the stream and waits for the thread; returns the SHA-256 hex digest of every byte
  // written. Throws fleet::Error when the thread failed. Call once.
  std::string finish();

private:
  using Chunk = std::vector<char>;

  void hand_over();
  void run(std::string& out);
  void stop_thread();
  [[noreturn]] void throw_failure() const;  // with m_mutex held and m_error set

  std::mutex m_mutex;
  std::condition_variable m_changed;
  std::deque<Chunk> m_full;  // waiting for the thread, oldest first
  std::vector<Chunk> m_free; // emptied by the thread, for reuse
  bool m_ending = false;
  bool m_done = false;
  std::string m_error;       // what the thread failed with
  std::exception_ptr m_failure;  // the thread's exception itself, rethrown so its kind is kept
  std::string m_digest;
  Chunk m_current;           // being filled by write()
  std::thread m_thread;
};

}  // namespace fleet::tarball
