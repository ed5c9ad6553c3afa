// SPDX-License-Identifier: MIT
#include "coordinator/cache/pack_cache.hpp"

#include "coordinator/cache/source_snapshot.hpp"
#include "uploader/base/error.hpp"
#include "uploader/base/file_io.hpp"
#include "uploader/hash/sha256.hpp"
#include "uploader/protocol/job.hpp"
#include "uploader/tarball/zstd_delta.hpp"
#include "uploader/tarball/zstd_stream.hpp"
#include "uploader/transfer/source_payload.hpp"

#include <archive.h>

#include <charconv>
#include <ctime>
#include <optional>

namespace fleet::coordinator {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view k_manifest_magic = "fleet-pack-manifest\n";

std::int64_t realtime_ns() {
  struct timespec t {};
  ::clock_gettime(CLOCK_REALTIME, &t);
  return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

// Everything besides the tree that decides the bytes of the packed tarball.
std::string format_key() {
  return "format " + std::to_string(k_pack_format_version) + " libarchive " + std::to_string(archive_version_number()) +
         " zstd " + std::to_string(ZSTD_versionNumber()) + " level " + std::to_string(tarball::k_zstd_level) +
         " workers " + std::to_string(tarball::k_zstd_workers) + "\n";
}

struct Manifest {
  std::int64_t written_ns = 0;
  std::string hash;
  std::string snapshot;
};

std::string encode(const Manifest& manifest) {
  std::string out(k_manifest_magic);
  out += format_key();
  out += "written " + std::to_string(manifest.written_ns) + "\n";
  out += "hash " + manifest.hash + "\n";
  out += manifest.snapshot;
  return out;
}

// Reads one "<key> <value>\n" line at `pos`; nullopt when the text does not have that shape.
std::optional<std::string_view> line_value(std::string_view text, std::size_t& pos, std::string_view key) {
  const std::size_t end = text.find('\n', pos);
  if (end == std::string_view::npos || text.compare(pos, key.size(), key) != 0 || text[pos + key.size()] != ' ') {
    return std::nullopt;
  }
  std::string_view value = text.substr(pos + key.size() + 1, end - pos - key.size() - 1);
  pos = end + 1;
  return value;
}

std::optional<Manifest> decode(std::string_view text) {
  const std::string key = format_key();
  if (!text.starts_with(k_manifest_magic) || text.substr(k_manifest_magic.size(), key.size()) != key) {
    return std::nullopt;
  }
  std::size_t pos = k_manifest_magic.size() + key.size();
  Manifest manifest;
  auto written = line_value(text, pos, "written");
  auto hash = line_value(text, pos, "hash");
  if (!written || !hash || !protocol::is_content_hash(*hash)) {
    return std::nullopt;
  }
  auto [end, error] = std::from_chars(written->data(), written->data() + written->size(), manifest.written_ns);
  if (error != std::errc() || end != written->data() + written->size()) {
    return std::nullopt;
  }
  manifest.hash = std::string(*hash);
  manifest.snapshot = std::string(text.substr(pos));
  return manifest;
}

void tell(const std::function<void(const std::string&)>& warn, const std::string& text) {
  if (warn) {
    warn(text);
  }
}

}  // namespace

PackCache::PackCache(TarballCache& tarballs, Clock now) : m_tarballs(tarballs), m_now(std::move(now)) {
  if (!m_now) {
    m_now = realtime_ns;
  }
}

PackOutcome PackCache::pack(const tarball::SourceSet& sources, const std::function<void(const std::string&)>& warn) {
  // Taken before any lstat: a file whose timestamps are older than this minus the racy window
  // cannot have changed since without its timestamps changing too.
  const std::int64_t taken_ns = m_now();
  const auto snapshot = snapshot_sources(sources);
  const std::string root = fs::absolute(sources.root).lexically_normal().string();
  const fs::path manifest_path = m_tarballs.dir() / "pack" / (hash::sha256_hex(root) + ".manifest");

  if (snapshot) {
    const auto stored_text = read_whole_file(manifest_path);
    const auto stored = stored_text ? decode(*stored_text) : std::nullopt;
    // A manifest from the future (the clock was wrong) vouches for nothing.
    if (stored && stored->written_ns <= taken_ns && stored->snapshot == snapshot->text &&
        snapshot->newest_change_ns < stored->written_ns - k_racy_window_ns) {
      auto cached = m_tarballs.packed(stored->hash);
      if (cached && cached->file_count == sources.paths.size()) {
        return {std::move(*cached), true};
      }
    }
  }

  PackOutcome outcome{tarball::pack(sources), false};
  // The cache only saves work, so nothing it throws fails the pack; a bug is still named as one.
  try {
    m_tarballs.put(outcome.packed);
    if (snapshot) {
      write_file_atomically(manifest_path, encode({taken_ns, outcome.packed.content_hash, snapshot->text}));
    }
  } catch (const std::exception& e) {
    tell(warn, "warning: the tarball cache was not updated: " + describe_error(e));
  }
  return outcome;
}

PackOutcome pack_with_default_cache(const tarball::SourceSet& sources,
                                    const std::function<void(const std::string&)>& warn) {
  std::optional<TarballCache> tarballs;
  try {
    tarballs.emplace(TarballCache::default_dir());
  } catch (const std::exception& e) {
    tell(warn, "warning: packing without the tarball cache: " + describe_error(e));
    return {tarball::pack(sources), false};
  }
  return PackCache(*tarballs).pack(sources, warn);
}

void remember_tarball(const tarball::PackedTarball& packed, const std::function<void(const std::string&)>& warn) {
  try {
    TarballCache(TarballCache::default_dir()).put(packed);
  } catch (const std::exception& e) {
    tell(warn, "warning: the tarball cache was not updated: " + describe_error(e));
  }
}

std::optional<std::string> cached_tar(const std::string& hash) {
  try {
    if (auto compressed = TarballCache(TarballCache::default_dir()).compressed(hash)) {
      return tarball::zstd_decompress(*compressed, transfer::k_max_tar_bytes);
    }
  } catch (const std::exception&) {
    // Without the cache the receiver gets the whole tarball: slower, never wrong.
  }
  return std::nullopt;
}

}  // namespace fleet::coordinator
