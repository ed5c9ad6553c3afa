// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace fleet::tarball {

// zstd's "patch-from": `target` compressed as one frame that may refer back into `base`, which
// both ends hold (an earlier tar of the same tree). Long-distance matching and a window that
// spans base and target let a one-file change cost about that file's compressed size,
// whatever the tree's size; the frame carries a checksum of `target`. Throws fleet::Error
// on a libzstd failure.
std::string make_delta(std::string_view base, std::string_view target);

// Reverses make_delta with the same `base`. The result may not exceed `max_size` bytes.
// Throws fleet::ProtocolError for a corrupt or truncated frame, one made against another
// base (its checksum does not match), trailing bytes, or output beyond `max_size`.
std::string apply_delta(std::string_view base, std::string_view frame, std::uint64_t max_size);

// Decompresses a whole zstd stream (one or more frames) of at most `max_size` output bytes.
// Throws fleet::ProtocolError as apply_delta does.
std::string zstd_decompress(std::string_view frames, std::uint64_t max_size);

}  // namespace fleet::tarball
