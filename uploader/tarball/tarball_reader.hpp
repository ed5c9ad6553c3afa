// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/base/error.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace fleet::tarball {

// Caps on what one tarball may unpack to: uncompressed tar bytes and tar entries.
struct UnpackLimits {
  std::uint64_t max_total_bytes = 8ull << 30;
  std::uint64_t max_entries = 1'000'000;
};

// What an unpack verified: the SHA-256 hex of the uncompressed tar, its size and entry count.
struct UnpackResult {
  std::string content_hash;
  std::uint64_t tar_size = 0;
  std::size_t entries = 0;
};

// Thrown by unpack() when the destination exists, either before anything was read (`result`
// empty, input untouched) or after a verified unpack lost the race to another writer at the
// final rename (`result` set; our copy was discarded).
class DestinationExists : public Error {
public:
  DestinationExists(const std::string& message, std::optional<UnpackResult> unpacked)
      : Error(message), result(std::move(unpacked)) {}

  std::optional<UnpackResult> result;
};

// Reads a .tar.zst stream from `fd` until EOF and extracts it into `dest`, which must not exist
// and whose parent must. Extraction goes to a fresh sibling "<dest>.partial-<random>" that is
// renamed to `dest` only when every entry was written AND the SHA-256 of the uncompressed tar
// equals `expected_hash`. Hostile input is rejected as a whole: absolute paths, '..'
// components, hardlinks, anything but regular files, directories and symlinks, writing through
// a symlink, exceeding `limits`, a truncated or corrupt zstd stream or tar, trailing garbage.
// Modes are normalised (dirs 0755, files 0644/0755), owners and times are not restored.
// On failure the partial directory is removed and fleet::ProtocolError (bad input) or
// fleet::Error (local failure) says what was wrong. Not safe to run concurrently with code that
// depends on the working directory: libarchive's symlink check briefly chdir()s.
UnpackResult unpack(int fd, const std::filesystem::path& dest, const std::string& expected_hash,
                    const UnpackLimits& limits = {});

// Checks an uncompressed tar without writing anything: its SHA-256 equals `expected_hash`, and
// no entry is one unpack() would refuse for its name or type or for lying beneath a symlink of
// the same tarball. Returns what it read; throws fleet::ProtocolError naming the problem.
UnpackResult check_tar(std::string_view tar, const std::string& expected_hash, const UnpackLimits& limits = {});

// As check_tar(), reading the tar from the file `fd` (from its start; the offset is left alone).
UnpackResult check_tar_file(int fd, const std::string& expected_hash, const UnpackLimits& limits = {});

// As unpack(), from an uncompressed tar already in memory (one rebuilt from a delta). Files
// identical (content and mode) to those at the same path in `earlier`, an older unpacked tree
// of the same source when not empty, are hardlinked from it instead of written; both trees
// must then stay read-only, as unpacked sources are.
UnpackResult unpack_tar(std::string_view tar, const std::filesystem::path& dest, const std::string& expected_hash,
                        const std::filesystem::path& earlier = {}, const UnpackLimits& limits = {});

// As unpack_tar(), reading the tar from the file `fd` as check_tar_file() does.
UnpackResult unpack_tar_file(int fd, const std::filesystem::path& dest, const std::string& expected_hash,
                             const std::filesystem::path& earlier = {}, const UnpackLimits& limits = {});

}  // namespace fleet::tarball
