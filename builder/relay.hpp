// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/transfer/relay_messages.hpp"

#include <filesystem>
#include <ostream>
#include <string>

namespace fleet::builder {

// Handles `fleet-builder relay --hash H`: sends the source H this node holds to every
// destination of `request` at once, each through OpenSSH to `fleet-builder receive` there
// (host key pinned to the one in the request), as a delta against a tar the destination keeps
// when this node keeps it too. Prints one transfer::RelayOutcome line per destination as it
// ends. Returns 0 when every destination holds H afterwards, 1 otherwise; throws fleet::Error
// when this node does not hold H itself.
int run_relay(const std::string& hash, const std::filesystem::path& state_dir, const transfer::RelayRequest& request,
              std::ostream& out);

}  // namespace fleet::builder
