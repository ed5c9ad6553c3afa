// SPDX-License-Identifier: MIT
#include "coordinator/cache/tarball_cache.hpp"

#include "uploader/base/error.hpp"
#include "uploader/base/file_io.hpp"
#include "uploader/hash/sha256.hpp"
#include "uploader/protocol/job.hpp"
#include "uploader/protocol/json_document.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <vector>

namespace fleet::coordinator {

namespace fs = std::filesystem;

namespace {

constexpr const char* k_tarball_suffix = ".tar.zst";
constexpr const char* k_sidecar_suffix = ".json";
constexpr int k_sidecar_version = 1;
// A temporary file this old belongs to a writer that died; younger ones may still be written.
constexpr auto k_stale_temporary = std::chrono::hours(1);

struct Stored {
  fs::path path;
  std::string hash;
  std::uint64_t size = 0;
  fs::file_time_type used;
};

}  // namespace

TarballCache::TarballCache(fs::path dir, std::uint64_t max_bytes) : m_dir(std::move(dir)), m_max_bytes(max_bytes) {}

fs::path TarballCache::default_dir() {
  // The XDG spec says relative values are invalid and must be ignored.
  const char* cache = std::getenv("XDG_CACHE_HOME");
  if (cache != nullptr && cache[0] == '/') {
    return fs::path(cache) / "fleet";
  }
  const char* home = std::getenv("HOME");
  if (home == nullptr || home[0] != '/') {
    throw Error("cannot find where to cache tarballs: set HOME or XDG_CACHE_HOME to an absolute path");
  }
  return fs::path(home) / ".cache" / "fleet";
}

fs::path TarballCache::tarball_path(const std::string& hash) const {
  return m_dir / "tarballs" / (hash + k_tarball_suffix);
}

fs::path TarballCache::sidecar_path(const std::string& hash) const {
  return m_dir / "tarballs" / (hash + k_sidecar_suffix);
}

void TarballCache::put(const tarball::PackedTarball& packed) {
  if (!protocol::is_content_hash(packed.content_hash)) {
    throw Error("refusing to cache a tarball whose content hash '" + packed.content_hash +
                "' is not 64 lowercase hex digits");
  }
  const nlohmann::json sidecar = {{"version", k_sidecar_version},
                                  {"content_hash", packed.content_hash},
                                  {"tar_size", packed.tar_size},
                                  {"file_count", packed.file_count},
                                  {"compressed_size", packed.compressed.size()},
                                  {"compressed_sha256", hash::sha256_hex(packed.compressed)}};
  // Tarball first: a sidecar never describes bytes that are not there yet, and a tarball
  // without a matching sidecar is a miss.
  write_file_atomically(tarball_path(packed.content_hash), packed.compressed);
  write_file_atomically(sidecar_path(packed.content_hash), sidecar.dump() + "\n");
  prune(packed.content_hash);
}

std::optional<std::string> TarballCache::compressed(const std::string& hash) const {
  auto found = packed(hash);
  if (!found) {
    return std::nullopt;
  }
  return std::move(found->compressed);
}

std::optional<tarball::PackedTarball> TarballCache::packed(const std::string& hash) const {
  if (!protocol::is_content_hash(hash)) {
    return std::nullopt;
  }
  auto sidecar_text = read_whole_file(sidecar_path(hash));
  if (!sidecar_text) {
    return std::nullopt;
  }
  tarball::PackedTarball result;
  std::uint64_t compressed_size = 0;
  std::string compressed_sha256;
  try {
    const auto sidecar = protocol::parse_json(*sidecar_text);
    if (sidecar.at("version").get<int>() != k_sidecar_version || sidecar.at("content_hash").get<std::string>() != hash) {
      return std::nullopt;
    }
    result.tar_size = sidecar.at("tar_size").get<std::uint64_t>();
    result.file_count = sidecar.at("file_count").get<std::size_t>();
    compressed_size = sidecar.at("compressed_size").get<std::uint64_t>();
    compressed_sha256 = sidecar.at("compressed_sha256").get<std::string>();
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
  auto bytes = read_whole_file(tarball_path(hash));
  if (!bytes || bytes->size() != compressed_size || hash::sha256_hex(*bytes) != compressed_sha256) {
    return std::nullopt;
  }
  touch_file(tarball_path(hash));
  result.content_hash = hash;
  result.compressed = std::move(*bytes);
  return result;
}

void TarballCache::prune(const std::string& keep) const {
  std::error_code ec;
  const fs::path dir = m_dir / "tarballs";
  std::vector<Stored> stored;
  std::vector<fs::path> sidecars;
  const auto now = fs::file_time_type::clock::now();
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& path = it->path();
    const std::string name = path.filename().string();
    std::error_code entry_ec;
    const auto used = fs::last_write_time(path, entry_ec);
    if (entry_ec) {
      continue;  // removed by another process meanwhile
    }
    if (name.find(".tmp-") != std::string::npos) {
      if (now - used > k_stale_temporary) {
        fs::remove(path, entry_ec);
      }
    } else if (name.size() == 64 + 8 && name.ends_with(k_tarball_suffix)) {
      const auto size = fs::file_size(path, entry_ec);
      if (!entry_ec) {
        stored.push_back({path, name.substr(0, 64), size, used});
      }
    } else if (name.ends_with(k_sidecar_suffix)) {
      sidecars.push_back(path);
    }
  }
  std::sort(stored.begin(), stored.end(), [](const Stored& a, const Stored& b) { return a.used > b.used; });
  std::uint64_t total = 0;
  std::vector<std::string> kept;
  for (const auto& entry : stored) {
    total += entry.size;
    if (entry.hash != keep && total > m_max_bytes) {
      total -= entry.size;
      fs::remove(entry.path, ec);
      fs::remove(sidecar_path(entry.hash), ec);
    } else {
      kept.push_back(entry.hash);
    }
  }
  // A sidecar whose tarball is gone (pruned by another process, or removed by hand) is noise.
  for (const auto& path : sidecars) {
    const std::string hash = path.filename().string().substr(0, 64);
    if (std::find(kept.begin(), kept.end(), hash) == kept.end() && !fs::exists(tarball_path(hash), ec)) {
      fs::remove(path, ec);
    }
  }
}

}  // namespace fleet::coordinator
