// SPDX-License-Identifier: MIT
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>

namespace fleet {

// The words an enum is written as on the wire and to people, in one table per enum, so that
// printing and parsing cannot disagree.
template <class Enum, std::size_t N>
struct EnumNames {
  std::array<std::pair<Enum, std::string_view>, N> entries;

  // `value`'s word; "unknown" only for a value outside the enum.
  constexpr std::string_view name(Enum value) const {
    for (const auto& [entry, word] : entries) {
      if (entry == value) {
        return word;
      }
    }
    return "unknown";
  }

  // The value written as `word`, or nullopt.
  constexpr std::optional<Enum> parse(std::string_view word) const {
    for (const auto& [entry, text] : entries) {
      if (text == word) {
        return entry;
      }
    }
    return std::nullopt;
  }
};

}  // namespace fleet
