// SPDX-License-Identifier: MIT
#include "coordinator/view/display_text.hpp"
#include "coordinator/view/json_view.hpp"
#include "coordinator/view/plain_view.hpp"
#include "coordinator/view/progress_view.hpp"
#include "coordinator/view/terminal_view.hpp"

#include "support/golden.hpp"
#include "support/run_samples.hpp"
#include "support/scoped_env.hpp"

#include <catch2/catch.hpp>

#include <sstream>

#include <unistd.h>

using namespace fleet;
using namespace fleet::coordinator;

namespace {

// Events reach a view as they do in a run: through a node tracker the view observes, here with
// every node served by location 0.
class Feed {
public:
  Feed(const std::vector<std::string>& nodes, ProgressView& view) : m_tracker(nodes) {
    m_tracker.subscribe(view);
    for (const auto& node : nodes) {
      m_tracker.assign(node, 0, protocol::Phase::activate);
    }
  }
  void operator()(const protocol::Event& event) { m_tracker.on_event(0, event); }

private:
  NodeTracker m_tracker;
};

// Feeds the sample run to a view as the orchestrator would: ticks between events, a note, the end.
void play_sample(ProgressView& view) {
  Feed feed(test::sample_nodes(), view);
  view.tick(test::k_sample_start);
  view.on_message("uploading 1.2 MiB to b1");
  for (const auto& event : test::sample_events()) {
    view.tick(event.ts);
    feed(event);
  }
  view.finish(test::sample_report(), "/home/alice/.local/state/fleet/runs/x.json");
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

// The text a terminal shows for one output line: escape sequences removed.
std::string visible(const std::string& line) { return printable(line); }

// The live lines of the last frame drawn before the summary, as the terminal shows them.
std::vector<std::string> final_frame(const std::string& out) {
  std::string before = out.substr(0, out.rfind("\x1b[J"));
  std::vector<std::string> lines;
  for (const auto& line : split(before.substr(before.rfind('\r')))) {
    if (!visible(line).empty()) {
      lines.push_back(visible(line));
    }
  }
  return lines;
}

// Whether a line is one of the live node lines (it starts with a state glyph).
bool is_node_line(const std::string& line) {
  for (const char* glyph : {"·", "✓", "✗", "↺", "⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}) {
    if (line.rfind(glyph, 0) == 0) {
      return true;
    }
  }
  return false;
}

std::string render_terminal(Color color, TerminalSize size = {60, 24}) {
  std::ostringstream err;
  TerminalView view(test::sample_nodes(), err, color, [size] { return size; });
  play_sample(view);
  return err.str();
}

}  // namespace

TEST_CASE("the plain view prints timestamped lines") {
  std::ostringstream err;
  PlainView view(test::sample_nodes(), err, TimeZone::utc);
  play_sample(view);
  test::check_golden("coordinator/plain_view.txt", err.str());
  CHECK(err.str().find('\x1b') == std::string::npos);
  CHECK(err.str().find("intruder") == std::string::npos);
}

TEST_CASE("the JSON view prints only event lines and the report on stdout") {
  std::ostringstream out;
  std::ostringstream err;
  JsonView view(test::sample_nodes(), out, err);
  play_sample(view);
  test::check_golden("coordinator/json_view.jsonl", out.str());
  CHECK(err.str() == "uploading 1.2 MiB to b1\n");
  auto lines = split(out.str());
  REQUIRE(lines.size() == test::sample_events().size());  // all but the intruder's event, plus the report
  for (const auto& line : lines) {
    CHECK(nlohmann::json::parse(line).is_object());
  }
  CHECK(nlohmann::json::parse(lines.back())["report"]["run"] == "20261121T230000Z-1a2b");
}

TEST_CASE("the terminal view redraws one line per node") {
  std::string plain = render_terminal(Color::off);
  auto lines = split(plain);

  SECTION("every node has its line, and the final state is drawn before the summary") {
    auto frame = final_frame(plain);
    REQUIRE(frame.size() == 5);
    CHECK(frame[0].rfind("✓ t1   activate  00:06  /nix/store/", 0) == 0);
    CHECK(frame[1].rfind("✓ t2   activate  00:06", 0) == 0);
    CHECK(frame[2].rfind("✗ t3   build     00:02  nix build exited", 0) == 0);
    CHECK(frame[3].rfind("↺ pi4  rollback  00:05  rolled back", 0) == 0);
    CHECK(frame[4].rfind("· t5   waiting   --:--  skipped", 0) == 0);
  }
  SECTION("a failure is printed once as a block with the node's last log lines") {
    std::string live = plain.substr(0, plain.rfind("\x1b[J"));  // not the summary's blocks
    auto first = live.find("FAILED: t3 build\n");
    REQUIRE(first != std::string::npos);
    CHECK(live.find("FAILED: t3 build\n", first + 1) == std::string::npos);
    CHECK(plain.find("nix build exited with status 1\n  error: attribute 'wifi' missing\n", first) != std::string::npos);
    CHECK(plain.find("FAILED: pi4 check\n") != std::string::npos);
  }
  SECTION("no colour codes without colour; the cursor still moves") {
    CHECK(plain.find("\x1b[0m") == std::string::npos);
    CHECK(plain.find("\x1b[31m") == std::string::npos);
    CHECK(plain.find("\x1b[5A") != std::string::npos);
  }
  SECTION("no line reaches the last column") {
    int node_lines = 0;
    for (const auto& line : lines) {
      if (is_node_line(visible(line))) {
        ++node_lines;
        CHECK(display_width(visible(line)) < 60);
      }
    }
    CHECK(node_lines > 20);
  }
  SECTION("events about other nodes do not show") { CHECK(plain.find("intruder") == std::string::npos); }
}

TEST_CASE("the terminal view colours states only when asked") {
  std::string coloured = render_terminal(Color::on);
  CHECK(coloured.find("\x1b[32m✓\x1b[0m") != std::string::npos);
  CHECK(coloured.find("\x1b[31m✗\x1b[0m") != std::string::npos);
  CHECK(coloured.find("\x1b[1;31mFAILED:\x1b[0m t3 build") != std::string::npos);
}

TEST_CASE("a fleet taller than the terminal shows busy nodes and counts the rest") {
  std::vector<std::string> nodes;
  for (int i = 0; i < 50; ++i) {
    nodes.push_back("n" + std::to_string(i));
  }
  std::ostringstream err;
  TerminalView view(nodes, err, Color::off, [] { return TerminalSize{80, 6}; });
  Feed feed(nodes, view);
  view.tick(10);
  feed({10, "n7", protocol::Phase::build, protocol::Status::start, "", {}});
  feed({10, "n9", protocol::Phase::build, protocol::Status::fail, "boom", {}});
  view.tick(11);
  std::string out = err.str();
  std::vector<std::string> frame;
  for (const auto& line : split(out.substr(out.rfind('\r')))) {
    if (!visible(line).empty()) {
      frame.push_back(visible(line));
    }
  }
  REQUIRE(frame.size() == 2);
  INFO(frame[0]);
  CHECK(frame[0].rfind("⠹ n7   build     00:01", 0) == 0);  // the spinner turns with each tick
  CHECK(frame[1] == "… 49 more: 1 failed, 48 waiting");
}

TEST_CASE("hostile text cannot drive the terminal") {
  CHECK(printable("\x1b[2J\x1b[Hgotcha") == "gotcha");
  CHECK(printable("\x1b]0;title\agotcha") == "gotcha");
  CHECK(printable("10%\r50%\r100%") == "100%");
  CHECK(printable("a\tb\x07" "c\x7f") == "a b?c?");
  CHECK(printable("x\xc2\x9b" "2Jy") == "x?2Jy");
  CHECK(printable("caf\xc3\xa9") == "café");
  CHECK(printable_lines("a\nb\n") == std::vector<std::string>{"a", "b"});
  CHECK(fit_columns("héllo world", 5) == "héll…");
  CHECK(fit_columns("hello", 5) == "hello");
  CHECK(pad_right("é", 3) == "é  ");

  std::ostringstream err;
  TerminalView view({"t1"}, err, Color::off, [] { return TerminalSize{}; });
  Feed feed({"t1"}, view);
  view.tick(1);
  feed({1, "t1", protocol::Phase::build, protocol::Status::progress, "\x1b[1000Aup", {}});
  view.tick(2);
  CHECK(err.str().find("\x1b[1000A") == std::string::npos);
}

TEST_CASE("the view mode follows --json, the terminal and TERM") {
  CHECK(choose_view_mode(true, STDOUT_FILENO) == ViewMode::json);
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  CHECK(choose_view_mode(false, fds[1]) == ViewMode::plain);
  ::close(fds[0]);
  ::close(fds[1]);

  std::ostringstream out;
  std::ostringstream err;
  CHECK(dynamic_cast<JsonView*>(make_view(ViewMode::json, {"t1"}, out, err, Color::on).get()) != nullptr);
  CHECK(dynamic_cast<PlainView*>(make_view(ViewMode::plain, {"t1"}, out, err, Color::on).get()) != nullptr);
  CHECK(dynamic_cast<TerminalView*>(make_view(ViewMode::terminal, {"t1"}, out, err, Color::on).get()) != nullptr);
}

TEST_CASE("NO_COLOR turns the terminal view's colours off") {
  auto draw = [] {
    std::ostringstream out;
    std::ostringstream err;
    auto view = make_view(ViewMode::terminal, {"t1"}, out, err, Color::on);
    Feed feed({"t1"}, *view);
    view->tick(1);
    feed({1, "t1", protocol::Phase::build, protocol::Status::start, "", {}});
    return err.str();
  };
  {
    test::ScopedEnv no_color("NO_COLOR", nullptr);
    CHECK(draw().find("\x1b[36m") != std::string::npos);
  }
  test::ScopedEnv no_color("NO_COLOR", "1");
  CHECK(draw().find("\x1b[36m") == std::string::npos);
  CHECK(draw().find("t1  build") != std::string::npos);
}
