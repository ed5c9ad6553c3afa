// SPDX-License-Identifier: MIT
#include "builder/activation/activation_store.hpp"

#include "uploader/base/error.hpp"
#include "uploader/base/unique_fd.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <unistd.h>

namespace fleet::builder {

std::string new_activation_id(const std::string& node) {
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
  char random[5];
  std::snprintf(random, sizeof random, "%04x", static_cast<unsigned>(std::random_device{}() & 0xffff));
  return node + "-" + std::to_string(now.count()) + "-" + random;
}

bool is_activation_id(const std::string& id) {
  return !id.empty() && id.size() <= 200 && id.front() != '-' && id.front() != '.' &&
         id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == std::string::npos;
}

int current_generation(const std::filesystem::path& profile) {
  std::error_code ec;
  auto target = std::filesystem::read_symlink(profile, ec).filename().string();  // "system-42-link"
  std::smatch match;
  static const std::regex k_generation_link(R"(.*-([0-9]+)-link)");
  if (ec || !std::regex_match(target, match, k_generation_link)) {
    return 0;
  }
  return std::stoi(match[1].str());
}

std::filesystem::path ActivationStore::dir(const std::string& id) const {
  if (!is_activation_id(id)) {
    throw Error("'" + id + "' is not an activation id");
  }
  return m_root / id;
}

void ActivationStore::create(const ActivationRecord& record) const {
  auto path = dir(record.id);
  std::filesystem::create_directories(m_root);
  std::filesystem::create_directory(path);
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  nlohmann::json json = {{"id", record.id},
                         {"node", record.node},
                         {"storePath", record.store_path},
                         {"action", protocol::to_string(record.action)},
                         {"spec", protocol::to_json(record.spec)},
                         {"nixOptions", record.nix_options},
                         {"timeoutSeconds", record.timeout_seconds},
                         {"previousGeneration", record.previous_generation},
                         {"previousPath", record.previous_path},
                         {"previousSystem", record.previous_system}};
  std::ofstream out(path / "record.json");
  out << json.dump() << '\n';
  if (!out.flush()) {
    throw Error("cannot write " + (path / "record.json").string());
  }
}

ActivationRecord ActivationStore::load(const std::string& id) const {
  std::ifstream in(dir(id) / "record.json");
  if (!in) {
    throw Error("no activation '" + id + "' on this host");
  }
  std::stringstream text;
  text << in.rdbuf();
  auto json = nlohmann::json::parse(text.str(), nullptr, false);
  try {
    ActivationRecord record;
    record.id = json.at("id").get<std::string>();
    record.node = json.at("node").get<std::string>();
    record.store_path = json.at("storePath").get<std::string>();
    auto action = protocol::parse_action(json.at("action").get<std::string>());
    if (!action) {
      throw Error("the record of activation '" + id + "' names no known action: " + json.at("action").dump());
    }
    record.action = *action;
    record.spec = protocol::parse_activation_spec(json.at("spec"), "spec.");
    record.nix_options = json.at("nixOptions").get<std::map<std::string, std::string>>();
    record.timeout_seconds = json.at("timeoutSeconds").get<int>();
    record.previous_generation = json.at("previousGeneration").get<int>();
    record.previous_path = json.at("previousPath").get<std::string>();
    record.previous_system = json.at("previousSystem").get<std::string>();
    return record;
  } catch (const nlohmann::json::exception& e) {
    throw Error("the record of activation '" + id + "' is damaged: " + e.what());
  }
}

bool ActivationStore::decide(const std::string& id, const std::string& decision) const {
  auto file = dir(id) / "decision";
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    if (errno == EEXIST) {
      return false;
    }
    throw Error("cannot record the decision for activation '" + id + "': " + std::strerror(errno));
  }
  bool written = ::write(fd.get(), decision.data(), decision.size()) == static_cast<ssize_t>(decision.size());
  ::fsync(fd.get());
  fd.reset();
  if (!written) {
    throw Error("cannot record the decision for activation '" + id + "'");
  }
  return true;
}

std::optional<std::string> ActivationStore::decision(const std::string& id) const {
  std::ifstream in(dir(id) / "decision");
  std::string text;
  if (!in || !std::getline(in, text) || text.empty()) {
    return std::nullopt;
  }
  return text;
}

}  // namespace fleet::builder
