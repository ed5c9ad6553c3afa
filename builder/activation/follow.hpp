// SPDX-License-Identifier: MIT
#pragma once

#include "builder/activation/activation_store.hpp"
#include "builder/event_writer.hpp"

#include <string>

namespace fleet::builder {

// Relays the events of activation `id` to `out`, from line `from_line` on, as the supervisor
// writes them, until its final event. Returns that event's "final" value ("ok", "failed",
// "rolled-back"), or "failed" with an event saying so when the supervisor died without one.
std::string follow_activation(const ActivationStore& store, const std::string& id, std::size_t from_line,
                              EventWriter& out);

}  // namespace fleet::builder
