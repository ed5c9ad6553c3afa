// SPDX-License-Identifier: MIT
#pragma once

namespace fleet {

// Owns one file descriptor and closes it on destruction, like unique_ptr does for memory.
// Move-only; -1 means "owns nothing".
class UniqueFd {
public:
  UniqueFd() noexcept = default;
  // Takes ownership of `fd`, which may be -1 (a failed open(2)) so the result can be tested once.
  explicit UniqueFd(int fd) noexcept : m_fd(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : m_fd(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  // The descriptor, still owned; -1 when there is none.
  int get() const noexcept { return m_fd; }
  bool valid() const noexcept { return m_fd >= 0; }

  // Gives the descriptor up without closing it (to fdopen(3), say) and returns it.
  int release() noexcept {
    const int fd = m_fd;
    m_fd = -1;
    return fd;
  }

  // Closes the current descriptor, if any, ignoring errors, and takes ownership of `fd`.
  void reset(int fd = -1) noexcept;

  // Closes now and says whether close(2) succeeded (false with errno set): a writer must check,
  // as some file systems report a failed write only here. Owns nothing afterwards either way.
  [[nodiscard]] bool close() noexcept;

private:
  int m_fd = -1;
};

}  // namespace fleet
