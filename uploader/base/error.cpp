// SPDX-License-Identifier: MIT
#include "uploader/base/error.hpp"

namespace fleet {

void Error::add_context(const std::string& context) {
  if (m_message.empty()) {
    m_message = std::runtime_error::what();
  }
  m_message += "\n  while " + context;
}

}  // namespace fleet
