// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/cache/tarball_cache.hpp"
#include "uploader/tarball/source_set.hpp"
#include "uploader/tarball/tarball_writer.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace fleet::coordinator {

// Bump when the tar layout written by tarball::pack changes, so old manifests stop matching.
inline constexpr int k_pack_format_version = 1;

// A file changed this close to (or after) the moment a manifest was taken may have changed
// again within the same timestamp tick, so the manifest cannot vouch for it.
inline constexpr std::int64_t k_racy_window_ns = 2'000'000'000;

// The result of PackCache::pack: the tarball, and whether it came from the cache unchanged.
struct PackOutcome {
  tarball::PackedTarball packed;
  bool from_cache = false;
};

// Packs a source set, skipping the work when the tree is unchanged since the last pack of the
// same root: <tarball cache>/pack/<sha256 of the root>.manifest records the lstat snapshot
// (source_snapshot.hpp) and the content hash it packed to. The cached tarball is reused only when
// the snapshot is byte-identical, no regular file changed within k_racy_window_ns of the
// snapshot, the format (k_pack_format_version, libarchive and libzstd versions, zstd settings) is
// the same, and the tarball passes TarballCache's verification; anything else repacks.
class PackCache {
public:
  // Nanoseconds since the epoch on the clock file timestamps use; injectable for tests.
  using Clock = std::function<std::int64_t()>;

  explicit PackCache(TarballCache& tarballs, Clock now = {});

  // The packed tarball of `sources`, from the cache or freshly packed (then stored in the cache).
  // Cache problems never fail the pack: `warn` hears about failures to write the cache. Throws
  // what tarball::pack throws.
  PackOutcome pack(const tarball::SourceSet& sources, const std::function<void(const std::string&)>& warn = {});

private:
  TarballCache& m_tarballs;
  Clock m_now;
};

// PackCache in TarballCache::default_dir(), or a plain tarball::pack when there is no usable
// cache directory (no HOME); `warn` hears why the cache could not be used.
PackOutcome pack_with_default_cache(const tarball::SourceSet& sources,
                                    const std::function<void(const std::string&)>& warn);

// Stores `packed` in the default tarball cache (for a pack made without PackCache); failures are
// reported to `warn` only.
void remember_tarball(const tarball::PackedTarball& packed, const std::function<void(const std::string&)>& warn);

// The uncompressed tar of an earlier source kept in the default tarball cache, to make a delta
// against; nullopt when it is not there (or the cache is unusable).
std::optional<std::string> cached_tar(const std::string& hash);

}  // namespace fleet::coordinator
