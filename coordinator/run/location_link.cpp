// SPDX-License-Identifier: MIT
#include "coordinator/run/location_link.hpp"

#include "uploader/base/error.hpp"

#include <nlohmann/json.hpp>

namespace fleet::coordinator {
namespace {

constexpr std::size_t k_upload_chunk = 256 * 1024;
constexpr const char* k_agent = "fleet-builder";

std::string exit_description(const ssh::ExitStatus& status) {
  return status.signal.empty() ? "exit status " + std::to_string(status.code) : "signal " + status.signal;
}

}  // namespace

LocationLink::LocationLink(BuildLocation location, ssh::SshOptions options)
    : m_location(std::move(location)), m_options(std::move(options)) {}

void LocationLink::connect() {
  m_session = ssh::SshSession::connect(m_location.ssh, m_options);
}

TransferRecord LocationLink::upload(const tarball::PackedTarball& tarball) {
  std::string stderr_text;
  auto channel = m_session->exec(std::string(k_agent) + " receive --hash " + tarball.content_hash,
                                 [&](std::string_view line) { stderr_text += std::string(line) + "\n"; });
  auto hello_line = channel->read_line(64 * 1024);
  auto hello = nlohmann::json::parse(hello_line.value_or(""), nullptr, false);
  if (!hello.is_object() || !hello.contains("have") || !hello["have"].is_boolean()) {
    auto status = channel->wait_exit();
    if (status.code == 127) {
      throw NodeError("fleet-builder is not installed on " + m_session->describe() +
                      ": install it there (the NixOS module in nix/ does) or put it on the login PATH");
    }
    throw NodeError("unexpected answer from fleet-builder receive on " + m_session->describe() + " (" +
                    exit_description(status) + "): '" + hello_line.value_or("") + "' " + stderr_text);
  }
  TransferRecord record{"laptop", m_location.name, 0, hello["have"].get<bool>()};
  if (!record.skipped) {
    std::string_view data(tarball.compressed);
    for (std::size_t offset = 0; offset < data.size(); offset += k_upload_chunk) {
      channel->write(data.substr(offset, k_upload_chunk));
    }
    record.bytes = data.size();
  }
  channel->send_eof();
  std::string rest = channel->read_all(64 * 1024);
  auto status = channel->wait_exit();
  if (status.code != 0) {
    throw NodeError("upload to " + m_session->describe() + " was rejected (" + exit_description(status) +
                    "): " + stderr_text + rest);
  }
  return record;
}

ssh::ExitStatus LocationLink::run_job(const protocol::BuildJob& job, const LineSink& on_line,
                                      const LineSink& on_stderr) {
  auto channel = m_session->exec(std::string(k_agent) + " build", on_stderr);
  channel->write(protocol::to_json(job).dump());
  channel->send_eof();
  while (auto line = channel->read_line()) {
    on_line(*line);
  }
  return channel->wait_exit();
}

}  // namespace fleet::coordinator
