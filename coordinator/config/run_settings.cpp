// SPDX-License-Identifier: MIT
#include "coordinator/config/run_settings.hpp"

#include "coordinator/config/config_reader.hpp"

namespace fleet::coordinator {
namespace {

constexpr long long k_max_timeout = 7 * 24 * 3600;

int bounded(const ObjectReader& reader, const std::string& key, int fallback, long long min, long long max,
            const std::string& unit) {
  auto value = reader.integer(key);
  if (!value) {
    return fallback;
  }
  if (*value < min || *value > max) {
    reader.fail(key, std::to_string(*value) + " is out of range",
                "give a whole number of " + unit + " from " + std::to_string(min) + " to " + std::to_string(max) +
                    " (default " + std::to_string(fallback) + ")");
  }
  return static_cast<int>(*value);
}

}  // namespace

RunSettings parse_run_settings(const std::string& file, const nlohmann::json& root) {
  RunSettings settings;
  auto find = [&](const char* key) -> const nlohmann::json* {
    auto it = root.find(key);
    return it == root.end() ? nullptr : &*it;
  };
  if (const auto* value = find("timeouts")) {
    ObjectReader reader(file, *value, "timeouts", {"connect", "upload", "inventory", "build", "copy", "activate"});
    auto& t = settings.timeouts;
    t.connect = bounded(reader, "connect", t.connect, 1, k_max_timeout, "seconds");
    t.upload = bounded(reader, "upload", t.upload, 1, k_max_timeout, "seconds");
    t.build = bounded(reader, "build", t.build, 1, k_max_timeout, "seconds");
    t.copy = bounded(reader, "copy", t.copy, 1, k_max_timeout, "seconds");
    t.activate = bounded(reader, "activate", t.activate, 1, k_max_timeout, "seconds");
    t.inventory = bounded(reader, "inventory", t.inventory, 1, k_max_timeout, "seconds");
  }
  if (const auto* value = find("retries")) {
    ObjectReader reader(file, *value, "retries", {"count", "delay"});
    settings.retries.count = bounded(reader, "count", settings.retries.count, 0, 10, "retries");
    settings.retries.delay = bounded(reader, "delay", settings.retries.delay, 0, 600, "seconds");
  }
  if (const auto* value = find("history")) {
    ObjectReader reader(file, *value, "history", {"keep", "maxAgeDays"});
    settings.history.keep = bounded(reader, "keep", settings.history.keep, 1, 100000, "runs");
    settings.history.max_age_days = bounded(reader, "maxAgeDays", settings.history.max_age_days, 1, 36500, "days");
  }
  return settings;
}

protocol::JobTimeouts job_timeouts(const PhaseTimeouts& timeouts) {
  return {timeouts.connect, timeouts.build, timeouts.copy, timeouts.activate};
}

protocol::JobRetries job_retries(const RetrySettings& retries) { return {retries.count, retries.delay}; }

}  // namespace fleet::coordinator
