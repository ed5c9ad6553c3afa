// SPDX-License-Identifier: MIT
#pragma once

#include <filesystem>
#include <ostream>
#include <string>

namespace fleet::builder {

// Handles `fleet-builder receive --hash H` (see uploader/transfer/transfer_messages.hpp). Prints
// the greeting (whether this node holds H; else the kept tars a delta may be made against) as
// one line to `out` and flushes. When it holds H it returns without reading `in_fd`; otherwise
// it reads a payload header and payload from `in_fd` (the whole .tar.zst, or a delta against
// a kept tar), rebuilds the tar as the payload arrives (into a temporary file beside where it is
// kept: memory holds pieces, never the payload or the tar), checks it (hash H, entry names and
// types, see tarball::check_tar_file), keeps it as <state_dir>/sources/H.tar (unpacked when a
// job needs it; a payload refused leaves nothing behind), and prints {"received":H,"bytes":<tar size>,"entries":N,"payloadBytes":P,"base":B|null}.
// Concurrent receives of the same hash both succeed (the tar is replaced atomically). Throws
// ProtocolError for a malformed H or bad input, Error otherwise.
void run_receive(const std::string& hash, const std::filesystem::path& state_dir, int in_fd, std::ostream& out);

}  // namespace fleet::builder
