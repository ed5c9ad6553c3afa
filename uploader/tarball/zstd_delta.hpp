// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace fleet::tarball {

// `target` as a delta against `base`, which both ends hold (an earlier tar of the same tree):
// the lengths of the prefix and suffix they share, then the bytes between them as one zstd
// frame that may refer back into the span of `base` they replace (zstd's "patch-from":
// long-distance matching and a window spanning that span). A one-file change costs about that file's compressed size,
// whatever the tree's size; the frame carries a checksum of what it holds. Throws fleet::Error
// on a libzstd failure.
std::string make_delta(std::string_view base, std::string_view target);

// Reverses make_delta with the same `base`. The result may not exceed `max_size` bytes.
// Throws fleet::ProtocolError for a corrupt or truncated delta, one made against another
// base (as far as its lengths and checksum can tell; the caller verifies the content hash),
// trailing bytes, or output beyond `max_size`.
std::string apply_delta(std::string_view base, std::string_view delta, std::uint64_t max_size);

// Decompresses a whole zstd stream (one or more frames) of at most `max_size` output bytes.
// Throws fleet::ProtocolError as apply_delta does.
std::string zstd_decompress(std::string_view frames, std::uint64_t max_size);

}  // namespace fleet::tarball
