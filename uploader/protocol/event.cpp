// SPDX-License-Identifier: MIT
#include "uploader/protocol/event.hpp"

#include "uploader/base/enum_names.hpp"
#include "uploader/base/error.hpp"
#include "uploader/protocol/json_document.hpp"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <utility>

namespace fleet::protocol {
namespace {

constexpr EnumNames<Phase, 10> k_phase_names{{{
    {Phase::upload, "upload"},
    {Phase::unpack, "unpack"},
    {Phase::probe, "probe"},
    {Phase::eval, "eval"},
    {Phase::build, "build"},
    {Phase::copy, "copy"},
    {Phase::secrets, "secrets"},
    {Phase::activate, "activate"},
    {Phase::check, "check"},
    {Phase::rollback, "rollback"},
}}};

constexpr EnumNames<Status, 4> k_status_names{{{
    {Status::start, "start"},
    {Status::progress, "progress"},
    {Status::ok, "ok"},
    {Status::fail, "fail"},
}}};

std::string quote_prefix(std::string_view line) {
  constexpr std::size_t k_quoted = 200;
  std::string quoted(line.substr(0, k_quoted));
  if (line.size() > k_quoted) {
    quoted += "…";
  }
  return "'" + quoted + "'";
}

}  // namespace

std::string_view to_string(Phase phase) {
  return k_phase_names.name(phase);
}

std::string_view to_string(Status status) {
  return k_status_names.name(status);
}

std::optional<Phase> parse_phase(std::string_view text) {
  return k_phase_names.parse(text);
}

std::optional<Status> parse_status(std::string_view text) {
  return k_status_names.parse(text);
}

namespace {

std::string unbounded_json_line(const Event& event) {
  nlohmann::json object = event.extra.is_object() ? event.extra : nlohmann::json::object();
  object["ts"] = event.ts;
  object["node"] = event.node;
  object["phase"] = to_string(event.phase);
  object["status"] = to_string(event.status);
  object["msg"] = event.msg;
  // Invalid UTF-8 from a build log must not make the writer throw.
  return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Extra fields larger than this are dropped from an event too long to send.
constexpr std::size_t k_max_kept_extra = 1024;

}  // namespace

std::string to_json_line(const Event& event) {
  std::string line = unbounded_json_line(event);
  if (line.size() <= k_max_event_line) {
    return line;
  }
  // The reader refuses longer lines, and the event may carry a node's verdict: shrink it.
  Event fitted = event;
  if (fitted.extra.is_object()) {
    for (auto it = fitted.extra.begin(); it != fitted.extra.end();) {
      it = it.value().dump().size() > k_max_kept_extra ? fitted.extra.erase(it) : std::next(it);
    }
  }
  // A log's end says why it failed, so the message keeps a little of its head and most of its
  // tail. Escaping can make the JSON longer than the text, hence the loop.
  const std::string& msg = event.msg;
  std::size_t keep = std::min(msg.size(), k_max_event_line / 2);
  for (line = unbounded_json_line(fitted); line.size() > k_max_event_line && keep > 0; keep /= 2) {
    const std::size_t head = keep / 8;
    const std::size_t tail = keep - head;
    fitted.msg = msg.substr(0, head) + "\n… [" + std::to_string(msg.size() - keep) + " bytes cut] …\n" +
                 msg.substr(msg.size() - tail);
    line = unbounded_json_line(fitted);
  }
  return line;
}

Event parse_event_line(std::string_view line) {
  if (line.size() > k_max_event_line) {
    throw ProtocolError("event line of " + std::to_string(line.size()) + " bytes exceeds the limit of " +
                        std::to_string(k_max_event_line) + ": " + quote_prefix(line));
  }
  if (protocol::nests_deeper_than(line, protocol::k_max_json_depth)) {
    throw ProtocolError("event line nests deeper than " + std::to_string(protocol::k_max_json_depth) +
                        " levels: " + quote_prefix(line));
  }
  nlohmann::json object = protocol::parse_json(line);
  if (object.is_discarded() || !object.is_object()) {
    throw ProtocolError("expected a JSON object per line, got " + quote_prefix(line));
  }
  auto string_field = [&](const char* key) -> std::string {
    auto it = object.find(key);
    if (it == object.end() || !it->is_string()) {
      throw ProtocolError(std::string("event lacks string field '") + key + "': " + quote_prefix(line));
    }
    return it->get<std::string>();
  };

  Event event;
  auto ts = object.find("ts");
  if (ts == object.end() || !ts->is_number()) {
    throw ProtocolError("event lacks numeric field 'ts': " + quote_prefix(line));
  }
  event.ts = ts->get<double>();
  event.node = string_field("node");
  auto phase = parse_phase(string_field("phase"));
  if (!phase) {
    throw ProtocolError("event has an unknown phase: " + quote_prefix(line));
  }
  event.phase = *phase;
  auto status = parse_status(string_field("status"));
  if (!status) {
    throw ProtocolError("event has an unknown status: " + quote_prefix(line));
  }
  event.status = *status;
  auto msg = object.find("msg");
  if (msg != object.end() && !msg->is_string()) {
    throw ProtocolError("event field 'msg' is not a string: " + quote_prefix(line));
  }
  event.msg = msg == object.end() ? "" : msg->get<std::string>();
  for (const char* key : {"ts", "node", "phase", "status", "msg"}) {
    object.erase(key);
  }
  event.extra = std::move(object);
  return event;
}

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace fleet::protocol
