// SPDX-License-Identifier: MIT
#include "uploader/base/unique_fd.hpp"

#include <unistd.h>

namespace fleet {

void UniqueFd::reset(int fd) noexcept {
  if (m_fd >= 0 && m_fd != fd) {
    // Not retried on EINTR: on Linux the descriptor is gone even then, and a retry could
    // close one another thread has just been given.
    ::close(m_fd);
  }
  m_fd = fd;
}

bool UniqueFd::close() noexcept {
  const int fd = release();
  return fd < 0 || ::close(fd) == 0;
}

}  // namespace fleet
