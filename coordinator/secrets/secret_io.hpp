// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/age/age.hpp"

#include <filesystem>
#include <optional>
#include <string>

namespace fleet::coordinator {

// The admin's identity file: `--identity FILE` when given, else $FLEET_AGE_IDENTITY, else
// $XDG_CONFIG_HOME/fleet/age.key (~/.config/fleet/age.key), else ~/.ssh/id_ed25519. Throws
// ConfigError listing where it looked when none exists or it cannot be parsed.
std::vector<age::Identity> load_admin_identity(const std::string& option);

// Like load_admin_identity, but returns nothing instead of throwing when no file exists.
std::optional<std::vector<age::Identity>> try_admin_identity(const std::string& option);

// The whole file as bytes, or nothing when it does not exist. Throws fleet::Error on read errors.
std::optional<std::string> read_optional_file(const std::filesystem::path& path);

// Replaces `path` atomically (temporary file beside it, fsync, rename), creating the directory.
void replace_file(const std::filesystem::path& path, std::string_view content);

// Lets the user edit `content` in $VISUAL or $EDITOR (else vi), in a 0600 file inside a fresh
// 0700 directory on /dev/shm when there is one (memory, never disk), else in $TMPDIR. The
// directory is wiped and removed whatever happens. Returns the edited bytes; throws
// fleet::Error when the editor fails.
std::string edit_privately(const std::string& name, const std::string& content);

}  // namespace fleet::coordinator
