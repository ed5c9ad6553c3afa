// SPDX-License-Identifier: MIT
#include "builder/activation/activation_store.hpp"

#include "uploader/base/error.hpp"
#include "uploader/base/file_io.hpp"
#include "uploader/protocol/event.hpp"
#include "uploader/protocol/json_document.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fleet::builder {
namespace {

nlohmann::json record_json(const ActivationRecord& record) {
  return {{"id", record.id},
          {"node", record.node},
          {"storePath", record.store_path},
          {"action", protocol::to_string(record.action)},
          {"spec", protocol::to_json(record.spec)},
          {"nixOptions", record.nix_options},
          {"timeoutSeconds", record.timeout_seconds},
          {"previousGeneration", record.previous_generation},
          {"previousPath", record.previous_path},
          {"previousSystem", record.previous_system},
          {"runId", record.run_id},
          {"deployer", record.deployer},
          {"secrets", secrets::to_json(record.secrets)},
          {"hostKey", record.host_key}};
}

// The owner of the directory, when this process is root and so could give files away.
std::optional<FileOwner> directory_owner(const std::filesystem::path& dir) {
  struct stat st {};
  if (::geteuid() != 0 || ::stat(dir.c_str(), &st) != 0) {
    return std::nullopt;
  }
  return FileOwner{st.st_uid, st.st_gid};
}

}  // namespace

std::string new_activation_id(const std::string& node) {
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
  // 64 random bits: two activations of one node in the same second must not share a directory.
  std::random_device random;
  char suffix[17];
  std::snprintf(suffix, sizeof suffix, "%08x%08x", static_cast<unsigned>(random()), static_cast<unsigned>(random()));
  return node + "-" + std::to_string(now.count()) + "-" + suffix;
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

bool has_final_event(const std::filesystem::path& events_file) {
  std::ifstream in(events_file);
  for (std::string line; std::getline(in, line);) {
    try {
      auto event = protocol::parse_event_line(line);
      if (event.extra.contains("final")) {
        return true;
      }
    } catch (const ProtocolError&) {
      // a damaged line is no result
    }
  }
  return false;
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
  if (!std::filesystem::create_directory(path)) {
    // Another activation's record and events are there: writing over them would lose its result.
    throw Error("activation directory " + path.string() + " exists already; not reusing another activation's record");
  }
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  AtomicWriteOptions own;
  own.mode = 0600;
  own.permissions = Permissions::exact;
  own.durability = Durability::file_and_directory;
  write_file_atomically(path / "events.jsonl", "", own);
  write_file_atomically(path / "record.json", record_json(record).dump() + "\n", own);
}

ActivationRecord ActivationStore::load(const std::string& id) const {
  auto text = read_whole_file(dir(id) / "record.json");
  if (!text) {
    throw Error("no activation '" + id + "' on this host");
  }
  auto json = protocol::parse_json(*text);
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
    // Records from before run ids and secrets were kept in them have neither.
    record.run_id = json.value("runId", "");
    record.deployer = json.value("deployer", "");
    record.host_key = json.value("hostKey", "");
    record.secrets.node = record.node;
    if (json.contains("secrets")) {
      record.secrets = secrets::parse_bundle(json["secrets"]);
    }
    return record;
  } catch (const nlohmann::json::exception& e) {
    throw Error("the record of activation '" + id + "' is damaged: " + e.what());
  } catch (const ProtocolError& e) {
    throw Error("the record of activation '" + id + "' is damaged: " + e.what());
  }
}

std::vector<std::string> ActivationStore::ids() const {
  std::vector<std::pair<std::filesystem::file_time_type, std::string>> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(m_root, ec)) {
    auto name = entry.path().filename().string();
    if (is_activation_id(name) && entry.is_directory(ec)) {
      found.emplace_back(entry.last_write_time(ec), name);
    }
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> ids;
  for (auto& [time, id] : found) {
    ids.push_back(std::move(id));
  }
  return ids;
}

bool ActivationStore::decide(const std::string& id, const std::string& decision) const {
  auto file = dir(id) / "decision";
  // Readable by all in a 0700 directory: the agent reads what the root supervisor decided.
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    if (errno == EEXIST) {
      return false;
    }
    throw Error("cannot record the decision for activation '" + id + "': " + std::strerror(errno));
  }
  if (auto owner = directory_owner(dir(id))) {
    (void)::fchown(fd.get(), owner->uid, owner->gid);
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

std::optional<Stage> ActivationStore::stage(const std::string& id) const {
  auto text = read_whole_file(dir(id) / "stage");
  if (!text) {
    return std::nullopt;
  }
  auto line = text->substr(0, text->find('\n'));
  auto stage = parse_stage(line);
  if (!stage) {
    throw Error("activation '" + id + "' records an unknown stage '" + line + "'");
  }
  return stage;
}

void ActivationStore::set_stage(const std::string& id, Stage stage) const {
  write_file(id, "stage", to_string(stage) + "\n");
}

void ActivationStore::write_file(const std::string& id, const std::string& name, const std::string& content) const {
  auto path = dir(id);
  write_file_atomically(path / name, content,
                        {.mode = 0644,
                         .permissions = Permissions::exact,
                         .owner = directory_owner(path),
                         .durability = Durability::file_and_directory,
                         .missing_directories = MissingDirectories::fail});
}

UniqueFd ActivationStore::hold(const std::string& id, bool wait) const {
  auto file = dir(id) / "record.json";
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    throw Error("cannot open " + file.string() + ": " + std::strerror(errno));
  }
  while (::flock(fd.get(), LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
    if (errno != EINTR) {
      return UniqueFd();
    }
  }
  return fd;
}

bool ActivationStore::held(const std::string& id) const {
  auto file = dir(id) / "record.json";
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return false;
  }
  return ::flock(fd.get(), LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
}

}  // namespace fleet::builder
