// SPDX-License-Identifier: MIT
#include "builder/source_store.hpp"

#include "uploader/base/error.hpp"
#include "uploader/base/file_io.hpp"
#include "uploader/protocol/job.hpp"
#include "uploader/tarball/tarball_reader.hpp"

#include <algorithm>

namespace fleet::builder {

namespace fs = std::filesystem;

SourceStore::SourceStore(fs::path state_dir) : m_dir(std::move(state_dir) / "sources") {}

bool SourceStore::holds(const std::string& hash) const {
  std::error_code ec;
  return fs::is_regular_file(fs::symlink_status(tar_path(hash), ec));
}

fs::path SourceStore::ensure_tree(const std::string& hash) const {
  std::error_code ec;
  if (fs::is_directory(fs::symlink_status(tree(hash), ec))) {
    return tree(hash);
  }
  auto kept = tar(hash);
  if (!kept) {
    throw NodeError("source " + hash + " was not received on this host; send it first (fleet-builder receive)");
  }
  // The newest tree unpacked before is most like this one: its unchanged files are reused.
  fs::path earlier;
  for (const auto& base : bases()) {
    std::error_code ec2;
    if (base != hash && fs::is_directory(fs::symlink_status(tree(base), ec2))) {
      earlier = tree(base);
      break;
    }
  }
  try {
    tarball::unpack_tar(*kept, tree(hash), hash, earlier);
  } catch (const tarball::DestinationExists&) {
    // Another job unpacked it first.
  } catch (Error& e) {
    e.add_context("unpacking source " + hash + " into " + tree(hash).string());
    throw;
  }
  return tree(hash);
}

fs::path SourceStore::flake_dir(const std::string& hash, const std::string& flake) const {
  if (!protocol::is_content_hash(hash)) {
    throw ProtocolError("--hash is not a content hash: '" + hash + "'");
  }
  if (flake.empty() || flake.front() == '/' || flake.find("..") != std::string::npos) {
    throw ProtocolError("--flake must be a relative path inside the source, got '" + flake + "'");
  }
  return (ensure_tree(hash) / flake).lexically_normal();
}

std::vector<std::string> SourceStore::bases() const {
  std::vector<std::pair<fs::file_time_type, std::string>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(m_dir, ec)) {
    const auto name = entry.path().filename().string();
    if (entry.path().extension() != ".tar" || !entry.is_regular_file(ec)) {
      continue;
    }
    const auto hash = name.substr(0, name.size() - 4);
    if (protocol::is_content_hash(hash)) {
      found.emplace_back(entry.last_write_time(ec), hash);
    }
  }
  std::sort(found.begin(), found.end(), std::greater<>());
  std::vector<std::string> hashes;
  for (auto& [time, hash] : found) {
    hashes.push_back(std::move(hash));
  }
  return hashes;
}

std::optional<std::string> SourceStore::tar(const std::string& hash) const {
  auto data = read_whole_file(tar_path(hash));
  if (data) {
    touch_file(tar_path(hash));
  }
  return data;
}

void SourceStore::keep_tar(const std::string& hash, std::string_view tar, std::optional<std::string_view> compressed) const {
  write_file_atomically(tar_path(hash), tar);
  if (compressed) {
    write_file_atomically(compressed_path(hash), *compressed);
  }
  std::error_code ec;
  auto kept = bases();
  for (std::size_t i = k_kept_tars; i < kept.size(); ++i) {
    if (kept[i] != hash) {
      fs::remove(tar_path(kept[i]), ec);
      fs::remove(compressed_path(kept[i]), ec);
    }
  }
}

std::optional<std::string> SourceStore::compressed(const std::string& hash) const {
  return read_whole_file(compressed_path(hash));
}

}  // namespace fleet::builder
