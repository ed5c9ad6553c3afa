// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/transfer/transfer_messages.hpp"

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace fleet::transfer {

// A source tarball a sender holds, as the uncompressed tar, the .tar.zst, or both; the other
// form is made once, when first asked for.
class HeldSource {
public:
  HeldSource(std::string hash, std::optional<std::string> tar, std::optional<std::string> compressed);

  const std::string& hash() const { return m_hash; }
  const std::string& tar();
  const std::string& compressed();
  bool has_compressed() const { return m_compressed.has_value(); }

private:
  std::string m_hash;
  std::optional<std::string> m_tar;
  std::optional<std::string> m_compressed;
};

// What a sender writes after the greeting: the header and the bytes it announces.
struct Payload {
  PayloadHeader header;
  std::string bytes;
};

// Returns the earlier tar called `hash` if the sender still has it.
using BaseLookup = std::function<std::optional<std::string>(const std::string& hash)>;

// A delta against the first base in `hello` (the receiver's newest) that `lookup` finds; the
// whole .tar.zst instead when there is none, or when the sender holds the .tar.zst and the
// delta is not under half its size.
Payload choose_payload(const ReceiveHello& hello, HeldSource& source, const BaseLookup& lookup);

// The payloads of one source, made once per list of receiver bases and shared: the receivers of
// one run usually keep the same earlier tar. Safe to use from several threads.
class PayloadCache {
public:
  PayloadCache(HeldSource source, BaseLookup lookup);

  const std::string& hash() const { return m_source.hash(); }
  // choose_payload() for `hello`, made on first use. Throws what choose_payload throws.
  std::shared_ptr<const Payload> payload_for(const ReceiveHello& hello);

private:
  HeldSource m_source;
  BaseLookup m_lookup;
  std::mutex m_mutex;
  std::map<std::vector<std::string>, std::shared_ptr<const Payload>> m_payloads;
};

// The largest tar a receiver accepts, and so the largest payload (zstd never expands by more
// than a small fraction).
inline constexpr std::uint64_t k_max_tar_bytes = 8ull << 30;

}  // namespace fleet::transfer
