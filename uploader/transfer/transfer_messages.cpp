// SPDX-License-Identifier: MIT
#include "uploader/transfer/transfer_messages.hpp"

#include "uploader/base/error.hpp"
#include "uploader/protocol/job.hpp"
#include "uploader/protocol/json_document.hpp"

#include <nlohmann/json.hpp>

namespace fleet::transfer {

namespace {

nlohmann::json parse_object(std::string_view line, const char* what) {
  auto json = protocol::parse_json(line);
  if (!json.is_object()) {
    throw ProtocolError(std::string(what) + " is not a JSON object: '" + std::string(line.substr(0, 200)) + "'");
  }
  return json;
}

std::string checked_hash(const nlohmann::json& value, const char* what) {
  if (!value.is_string() || !protocol::is_content_hash(value.get<std::string>())) {
    throw ProtocolError(std::string(what) + " is not a content hash (64 lowercase hex digits): " + value.dump());
  }
  return value.get<std::string>();
}

}  // namespace

std::string to_line(const ReceiveHello& hello) {
  return nlohmann::json{{"hello", "fleet-builder"}, {"version", protocol::k_protocol_version},
                        {"have", hello.have},       {"bases", hello.bases}}
      .dump();
}

std::string to_line(const PayloadHeader& header) {
  nlohmann::json json{{"bytes", header.bytes}};
  json["base"] = header.base.empty() ? nlohmann::json(nullptr) : nlohmann::json(header.base);
  return json.dump();
}

ReceiveHello parse_receive_hello(std::string_view line) {
  auto json = parse_object(line, "the receiver's greeting");
  auto version = json.find("version");
  if (version == json.end() || !version->is_number_integer() || version->get<int>() != protocol::k_protocol_version) {
    throw ProtocolError("the receiver speaks protocol " + (version == json.end() ? std::string("?") : version->dump()) +
                        ", this fleet speaks " + std::to_string(protocol::k_protocol_version) +
                        "; install the same fleet version on both sides");
  }
  ReceiveHello hello;
  auto have = json.find("have");
  if (have == json.end() || !have->is_boolean()) {
    throw ProtocolError("the receiver's greeting has no boolean \"have\": '" + std::string(line.substr(0, 200)) + "'");
  }
  hello.have = have->get<bool>();
  auto bases = json.find("bases");
  if (bases != json.end()) {
    if (!bases->is_array() || bases->size() > k_max_bases) {
      throw ProtocolError("the receiver's \"bases\" is not a list of at most " + std::to_string(k_max_bases) + " hashes");
    }
    for (const auto& base : *bases) {
      hello.bases.push_back(checked_hash(base, "a base offered by the receiver"));
    }
  }
  return hello;
}

PayloadHeader parse_payload_header(std::string_view line, std::uint64_t max_bytes) {
  auto json = parse_object(line, "the payload header");
  PayloadHeader header;
  auto bytes = json.find("bytes");
  if (bytes == json.end() || !bytes->is_number_unsigned() || bytes->get<std::uint64_t>() > max_bytes) {
    throw ProtocolError("the payload header's \"bytes\" is not a size of at most " + std::to_string(max_bytes) + ": '" +
                        std::string(line.substr(0, 200)) + "'");
  }
  header.bytes = bytes->get<std::uint64_t>();
  auto base = json.find("base");
  if (base != json.end() && !base->is_null()) {
    header.base = checked_hash(*base, "the payload's base");
  }
  return header;
}

}  // namespace fleet::transfer
