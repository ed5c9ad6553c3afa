// SPDX-License-Identifier: MIT
#include "coordinator/view/progress_view.hpp"

#include "coordinator/view/json_view.hpp"
#include "coordinator/view/plain_view.hpp"
#include "coordinator/view/terminal_view.hpp"

#include <cstdlib>
#include <string_view>

#include <unistd.h>

namespace fleet::coordinator {

ViewMode choose_view_mode(bool json_flag, int fd) {
  if (json_flag) {
    return ViewMode::json;
  }
  const char* term = std::getenv("TERM");
  if (::isatty(fd) == 1 && term != nullptr && term[0] != '\0' && std::string_view(term) != "dumb") {
    return ViewMode::terminal;
  }
  return ViewMode::plain;
}

std::unique_ptr<ProgressView> make_view(ViewMode mode, std::vector<std::string> nodes, std::ostream& out,
                                        std::ostream& err, Color color) {
  switch (mode) {
  case ViewMode::json:
    return std::make_unique<JsonView>(std::move(nodes), out, err);
  case ViewMode::plain:
    return std::make_unique<PlainView>(std::move(nodes), err);
  case ViewMode::terminal: {
    // no-color.org: any non-empty NO_COLOR turns colour off.
    const char* no_color = std::getenv("NO_COLOR");
    if (no_color != nullptr && no_color[0] != '\0') {
      color = Color::off;
    }
    return std::make_unique<TerminalView>(std::move(nodes), err, color,
                                          [] { return terminal_size(STDERR_FILENO); });
  }
  }
  return std::make_unique<PlainView>(std::move(nodes), err);
}

}  // namespace fleet::coordinator
