// SPDX-License-Identifier: MIT
#pragma once

#include <filesystem>
#include <ostream>
#include <string>

namespace fleet::builder {

// Handles `fleet-builder receive --hash H`. Prints {"hello":"fleet-builder","version":1,
// "have":true|false} as one line to `out` and flushes. When <state_dir>/sources/H exists it
// returns without reading `in_fd`; otherwise it unpacks the .tar.zst on `in_fd` into that
// directory, verifying H, and prints {"received":H,"bytes":<tar size>,"entries":N}. A
// concurrent receive of the same hash that finishes first wins; ours is discarded and this
// still succeeds. Throws ProtocolError for a malformed H or bad input, Error otherwise.
void run_receive(const std::string& hash, const std::filesystem::path& state_dir, int in_fd, std::ostream& out);

}  // namespace fleet::builder
