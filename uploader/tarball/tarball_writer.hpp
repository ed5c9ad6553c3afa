// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/tarball/source_set.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace fleet::tarball {

// A packed source tree. `content_hash` (SHA-256 hex of the uncompressed tar) identifies it
// everywhere; `compressed` is the .tar.zst to upload; `file_count` counts tar entries
// (files, directories and symlinks).
struct PackedTarball {
  std::string content_hash;
  std::string compressed;
  std::uint64_t tar_size = 0;
  std::size_t file_count = 0;
};

// Packs `sources` into a deterministic pax_restricted tar (entries in the given order, mtime 0,
// uid/gid 0, no user/group names, dirs 0755, files 0644 or 0755 when any x bit is set,
// symlinks as symlinks, hardlinked files as separate copies) compressed with the pinned zstd
// parameters of zstd_stream.hpp. The same tree always gives the same bytes. Throws fleet::Error
// naming the file when one cannot be read or changes while being packed.
PackedTarball pack(const SourceSet& sources);

}  // namespace fleet::tarball
