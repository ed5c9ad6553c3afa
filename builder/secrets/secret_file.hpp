// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/protocol/job_secret.hpp"

#include <filesystem>
#include <string_view>

namespace fleet::builder::secrets {

// Writes `content` to `spec.dest` atomically: a temporary file in the same directory is given
// its owner, group and mode before any byte is written, then synced and renamed over the
// destination. A missing parent directory is created 0750 (group `keys` when it exists, as
// NixOS has it). The way there is refused where someone other than root could redirect it: a
// symlink or directory found in a directory that other users may write. Throws fleet::Error
// with the reason (unknown user or group, an unsafe directory, no space, …); the temporary file
// never outlives a failure.
void write_secret_file(const protocol::JobSecret& spec, std::string_view content);

// Writes a private file (0600, directory 0700) atomically; for the kept ciphertexts.
void write_private_file(const std::filesystem::path& path, std::string_view content);

}  // namespace fleet::builder::secrets
