// SPDX-License-Identifier: MIT
#include "builder/phases/nix_build.hpp"

#include "uploader/base/process.hpp"
#include "uploader/protocol/json_document.hpp"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <map>
#include <unistd.h>

namespace fleet::builder {
namespace {

using protocol::Phase;
using protocol::Status;

const char* k_toplevel_fields = "t: { drv = t.drvPath; out = t.outPath; }";

// The attribute set holding every node's configuration, and the way from one of them to its
// toplevel derivation.
struct Toplevels {
  std::string set;
  std::string member;  // appended to a configuration, starting with '.' unless empty
};

Toplevels toplevels(std::optional<protocol::InventoryKind> inventory) {
  if (inventory == protocol::InventoryKind::colmena) {
    return {"colmenaHive.toplevel", ""};
  }
  return {"nixosConfigurations", ".config.system.build.toplevel"};
}

// Reads {"drv": …, "out": …} tolerantly: newer nix may add fields.
bool read_paths(const nlohmann::json& value, TargetState& state) {
  if (!value.is_object() || !value.contains("drv") || !value.contains("out") || !value["drv"].is_string() ||
      !value["out"].is_string()) {
    return false;
  }
  state.drv_path = value["drv"].get<std::string>();
  state.out_path = value["out"].get<std::string>();
  return true;
}

// What the nix process that evaluated `targets` toplevels cost, for the eval events (the report
// keeps it per node): a builder's evaluation figures are what sizes its batches.
nlohmann::json eval_usage(const ProcessResult& result, std::size_t targets, nlohmann::json extra = nlohmann::json::object()) {
  extra["evalCpuSeconds"] = result.cpu_seconds;
  extra["evalPeakMiB"] = result.peak_rss_kib / 1024;
  extra["evalTargets"] = targets;
  return extra;
}

// Why an evaluation failed when nix could not say: a timeout or a signal (the OOM killer's is
// SIGKILL) leaves no error of nix's own.
std::string eval_failure(const ProcessResult& result) {
  if (result.timed_out) {
    return "nix was stopped when timeouts.build of fleet.json passed\n" + result.err_tail;
  }
  if (result.signal != 0) {
    return "nix was killed by signal " + std::to_string(result.signal) + " at " +
           std::to_string(result.peak_rss_kib / 1024) + " MiB resident" +
           (result.signal == SIGKILL ? " (the out-of-memory killer does that: see evalMemoryMB in fleet.json)" : "") +
           "\n" + result.err_tail;
  }
  return result.err_tail;
}

void evaluate_one(TargetState& state, const std::string& flake_ref, const Toplevels& where, const NixCli& nix,
                  EventWriter& events, std::chrono::seconds timeout) {
  const auto& node = state.target.node;
  auto attr = flake_ref + "#" + where.set + "." + nix_string_literal(node) + where.member;
  auto argv = nix.nix({"eval", "--json", "--no-write-lock-file", attr, "--apply", k_toplevel_fields});
  auto result = run_process({argv, {}, "", timeout});
  nlohmann::json parsed = protocol::parse_json(result.out);
  if (!result.ok() || !read_paths(parsed, state)) {
    state.failed = true;
    events.emit(node, Phase::eval, Status::fail, "evaluation of " + where.set + "." + node + " failed:\n" + eval_failure(result),
                eval_usage(result, 1));
    return;
  }
  events.emit(node, Phase::eval, Status::ok, state.drv_path, eval_usage(result, 1, {{"drvPath", state.drv_path}}));
}

// `nix-store --add-root R` names the roots of several outputs R, R-2, R-3 … (and only those:
// another build's R1 is not one of them).
void remove_build_roots(const std::filesystem::path& build_root) {
  std::error_code ec;
  const auto name = build_root.filename().string();
  for (const auto& entry : std::filesystem::directory_iterator(build_root.parent_path(), ec)) {
    const auto other = entry.path().filename().string();
    if (other == name || other.rfind(name + "-", 0) == 0) {
      std::filesystem::remove(entry.path(), ec);
    }
  }
}

// A temporary root of its own for each build, as several run at once in one agent.
std::filesystem::path new_build_root(const std::filesystem::path& roots_dir) {
  static std::atomic<unsigned> builds{0};
  return roots_dir / (".build-" + std::to_string(getpid()) + "." + std::to_string(++builds));
}

}  // namespace

void evaluate_targets(std::vector<TargetState>& targets, const std::string& flake_ref,
                      std::optional<protocol::InventoryKind> inventory, const NixCli& nix, EventWriter& events,
                      std::chrono::seconds timeout) {
  const Toplevels where = toplevels(inventory);
  std::string names;
  std::size_t live = 0;
  for (auto& t : targets) {
    if (!t.failed) {
      names += nix_string_literal(t.target.node) + " = null; ";
      events.emit(t.target.node, Phase::eval, Status::start, flake_ref);
      ++live;
    }
  }
  if (live == 0) {
    return;
  }
  std::string apply = "cs: builtins.mapAttrs (n: c: (" + std::string(k_toplevel_fields) + ") c" + where.member +
                      ") (builtins.intersectAttrs { " + names + "} cs)";
  auto argv = nix.nix({"eval", "--json", "--no-write-lock-file", flake_ref + "#" + where.set, "--apply", apply});
  auto result = run_process({argv, {}, "", timeout});
  nlohmann::json all = protocol::parse_json(result.out);
  if (!result.ok() || !all.is_object()) {
    // One broken configuration fails the shared evaluation: find out which, one by one.
    for (auto& t : targets) {
      if (!t.failed) {
        evaluate_one(t, flake_ref, where, nix, events, timeout);
      }
    }
    return;
  }
  for (auto& t : targets) {
    if (t.failed) {
      continue;
    }
    const auto& node = t.target.node;
    auto it = all.find(node);
    if (it == all.end()) {
      t.failed = true;
      events.emit(node, Phase::eval, Status::fail,
                  "the flake has no " + where.set + "." + node + "; add it or fix the node name in fleet.json");
    } else if (!read_paths(*it, t)) {
      t.failed = true;
      events.emit(node, Phase::eval, Status::fail, "nix eval returned an unexpected value: " + it->dump());
    } else {
      events.emit(node, Phase::eval, Status::ok, t.drv_path, eval_usage(result, live, {{"drvPath", t.drv_path}}));
    }
  }
}

void build_targets(std::vector<TargetState>& targets, const NixCli& nix, const std::filesystem::path& roots_dir,
                   EventWriter& events, std::chrono::seconds timeout) {
  std::vector<std::string> args{"--realise", "--keep-going"};
  std::map<std::string, TargetState*> by_drv_name;  // "…-nixos-system-t1.drv" → its target
  for (auto& t : targets) {
    if (!t.failed) {
      args.push_back(t.drv_path);
      by_drv_name[std::filesystem::path(t.drv_path).filename().string()] = &t;
      events.emit(t.target.node, Phase::build, Status::start, t.drv_path);
    }
  }
  if (by_drv_name.empty()) {
    return;
  }
  std::map<TargetState*, std::string> errors;
  // A log line naming a target's derivation belongs to that target; the others (shared
  // dependencies) go to every target of the build.
  auto on_line = [&](std::string_view line) {
    bool matched = false;
    for (auto& [drv_name, state] : by_drv_name) {
      if (line.find(drv_name) != std::string_view::npos) {
        matched = true;
        events.emit(state->target.node, Phase::build, Status::progress, line);
        if (line.find("error") != std::string_view::npos || line.find("failed") != std::string_view::npos) {
          errors[state] += std::string(line) + "\n";
        }
      }
    }
    if (!matched) {
      for (auto& [drv_name, state] : by_drv_name) {
        events.emit(state->target.node, Phase::build, Status::progress, line);
      }
    }
  };
  // Rooted from the moment they exist until each gets its own root below; stdout only lists
  // the outputs, which are checked one by one anyway.
  std::filesystem::create_directories(roots_dir);
  auto build_root = new_build_root(roots_dir);
  args.insert(args.end(), {"--add-root", build_root.string(), "--indirect"});
  auto argv = nix.legacy("nix-store", args);
  auto result = run_process({argv, {}, "", timeout}, {}, on_line);

  for (auto& [drv_name, state] : by_drv_name) {
    const auto& node = state->target.node;
    auto root = (roots_dir / node).string();
    auto check = run_process({nix.legacy("nix-store", {"--check-validity", state->out_path}), {}, "", std::chrono::seconds{60}});
    if (!check.ok()) {
      state->failed = true;
      std::string why = errors[state];
      // A build log may be gigabytes; only its end is kept, as it streams past.
      constexpr std::size_t k_log_tail_bytes = 4000;
      std::string tail;
      auto keep_tail = [&](std::string_view line) {
        tail.append(line.substr(line.size() - std::min(line.size(), k_log_tail_bytes))).push_back('\n');
        if (tail.size() > 2 * k_log_tail_bytes) {
          tail.erase(0, tail.size() - k_log_tail_bytes);
        }
      };
      auto log = run_process({nix.legacy("nix-store", {"--read-log", state->drv_path}), {}, "", std::chrono::seconds{60}},
                             keep_tail);
      if (log.ok() && !tail.empty()) {
        why += "last log lines:\n" + tail.substr(tail.size() - std::min(tail.size(), k_log_tail_bytes));
      }
      if (why.empty()) {
        why = result.timed_out ? "the build timed out\n" : result.err_tail;
      }
      events.emit(node, Phase::build, Status::fail, "building " + state->drv_path + " failed:\n" + why);
      continue;
    }
    // Outputs are unrooted until copied; a concurrent garbage collection must not take them.
    auto rooted = run_process(
        {nix.legacy("nix-store", {"--realise", state->out_path, "--add-root", root, "--indirect"}), {}, "", std::chrono::seconds{60}});
    if (!rooted.ok()) {
      events.emit(node, Phase::build, Status::progress, "could not add GC root " + root + ": " + rooted.err_tail);
    }
    events.emit(node, Phase::build, Status::ok, state->out_path, {{"storePath", state->out_path}});
  }
  remove_build_roots(build_root);
}

}  // namespace fleet::builder
