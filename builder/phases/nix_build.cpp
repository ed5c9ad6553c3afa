// SPDX-License-Identifier: MIT
#include "builder/phases/nix_build.hpp"

#include "uploader/base/error.hpp"
#include "uploader/base/process.hpp"
#include "uploader/protocol/json_document.hpp"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <map>
#include <sodium.h>
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

// What the nix process that evaluated `targets` toplevels had cost by then, for the eval events
// (the report keeps it per node): a builder's evaluation figures are what sizes its batches.
nlohmann::json eval_usage(const ProcessUsage& usage, std::size_t targets, nlohmann::json extra = nlohmann::json::object()) {
  extra["evalCpuSeconds"] = usage.cpu_seconds;
  extra["evalPeakMiB"] = usage.peak_rss_kib / 1024;
  extra["evalTargets"] = targets;
  return extra;
}

// Reports `state`'s toplevel as evaluated, by a process that had cost `usage` and evaluated
// `targets` toplevels by then, and hands the target on.
void hand_over(TargetState& state, const ProcessUsage& usage, std::size_t targets, EventWriter& events,
               const OnEvaluated& on_evaluated) {
  events.emit(state.target.node, Phase::eval, Status::ok, state.drv_path, eval_usage(usage, targets, {{"drvPath", state.drv_path}}));
  on_evaluated(state);
}

// Why an evaluation failed when nix could not say: a timeout or a signal (the OOM killer's is
// SIGKILL) leaves no error of nix's own.
std::string eval_failure(const ProcessResult& result) {
  if (result.timed_out) {
    return "nix was stopped when timeouts.build of fleet.json passed\n" + result.err_tail;
  }
  if (result.signal != 0) {
    return "nix was killed by signal " + std::to_string(result.signal) + " at " +
           std::to_string(result.usage.peak_rss_kib / 1024) + " MiB resident" +
           (result.signal == SIGKILL ? " (the out-of-memory killer does that: see evalMemoryMB in fleet.json)" : "") +
           "\n" + result.err_tail;
  }
  return result.err_tail;
}

void evaluate_one(TargetState& state, const std::string& flake_ref, const Toplevels& where, const NixCli& nix,
                  EventWriter& events, std::chrono::seconds timeout, const OnEvaluated& on_evaluated) {
  const auto& node = state.target.node;
  auto attr = flake_ref + "#" + where.set + "." + nix_string_literal(node) + where.member;
  auto argv = nix.nix({"eval", "--json", "--no-write-lock-file", attr, "--apply", k_toplevel_fields});
  auto result = run_process({argv, {}, "", timeout});
  nlohmann::json parsed = protocol::parse_json(result.out);
  if (!result.ok() || !read_paths(parsed, state)) {
    state.failed = true;
    events.emit(node, Phase::eval, Status::fail, "evaluation of " + where.set + "." + node + " failed:\n" + eval_failure(result),
                eval_usage(result.usage, 1));
    return;
  }
  hand_over(state, result.usage, 1, events, on_evaluated);
}

// A word no configuration can know (it is only in the --apply expression), so that only the
// trace lines fleet asks for are taken as toplevels.
std::string trace_tag() {
  unsigned char random[16];
  randombytes_buf(random, sizeof random);
  char hex[2 * sizeof random + 1];
  sodium_bin2hex(hex, sizeof hex, random, sizeof random);
  return std::string("fleet-toplevel-") + hex;
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

// Makes `root` an indirect GC root of the valid store path `path`.
ProcessResult add_gc_root(const NixCli& nix, const std::string& path, const std::string& root) {
  return run_process({nix.legacy("nix-store", {"--realise", path, "--add-root", root, "--indirect"}), {}, "", std::chrono::seconds{60}});
}

// A temporary root of its own for each build, as several run at once in one agent.
std::filesystem::path new_build_root(const std::filesystem::path& roots_dir) {
  static std::atomic<unsigned> builds{0};
  return roots_dir / (".build-" + std::to_string(getpid()) + "." + std::to_string(++builds));
}

}  // namespace

std::string add_flake_to_store(const std::filesystem::path& flake_dir, const NixCli& nix, const std::filesystem::path& root,
                               std::chrono::seconds timeout) {
  auto added = run_process({nix.nix({"store", "add-path", "--name", "source", flake_dir.string()}), {}, "", timeout});
  std::string path = added.out.substr(0, added.out.find('\n'));
  if (!added.ok() || path.empty() || path.front() != '/') {
    throw NodeError("cannot add the flake " + flake_dir.string() + " to the nix store:\n" + added.err_tail);
  }
  // Until the root exists, a garbage collection could take the path: nix would then say it is missing.
  auto rooted = add_gc_root(nix, path, root.string());
  if (!rooted.ok()) {
    throw NodeError("cannot add the GC root " + root.string() + " for the flake's source " + path + ":\n" + rooted.err_tail);
  }
  return "path:" + path;
}

void evaluate_targets(std::vector<TargetState>& targets, const std::string& flake_ref,
                      std::optional<protocol::InventoryKind> inventory, const NixCli& nix, EventWriter& events,
                      std::chrono::seconds timeout, const OnEvaluated& on_evaluated) {
  const Toplevels where = toplevels(inventory);
  std::map<std::string, TargetState*> pending;  // the live targets whose toplevel is not known yet
  std::string names;
  for (auto& t : targets) {
    if (!t.failed) {
      names += nix_string_literal(t.target.node) + " = null; ";
      pending[t.target.node] = &t;
      events.emit(t.target.node, Phase::eval, Status::start, flake_ref);
    }
  }
  if (pending.empty()) {
    return;
  }
  // Each toplevel is traced the moment nix has evaluated it, so that its target is built while
  // nix goes on with the others, as nix-eval-jobs would stream it.
  const std::string tag = trace_tag();
  std::string apply = "cs: builtins.mapAttrs (n: c: let t = (" + std::string(k_toplevel_fields) + ") c" + where.member +
                      "; in builtins.trace (" + nix_string_literal(tag + " ") +
                      " + builtins.toJSON { node = n; inherit (t) drv out; }) t) (builtins.intersectAttrs { " + names + "} cs)";
  const std::string traced = "trace: " + tag + " ";
  std::size_t evaluated = 0;
  std::vector<TargetState*> traced_at_exit;
  int pid = -1;
  auto on_line = [&](std::string_view line) {
    if (line.substr(0, traced.size()) != traced) {
      return;
    }
    nlohmann::json value = protocol::parse_json(line.substr(traced.size()));
    if (!value.is_object() || !value.contains("node") || !value["node"].is_string()) {
      return;
    }
    auto it = pending.find(value["node"].get<std::string>());
    if (it == pending.end() || !read_paths(value, *it->second)) {
      return;
    }
    TargetState& t = *it->second;
    pending.erase(it);
    ++evaluated;
    if (auto usage = usage_so_far(pid)) {
      hand_over(t, *usage, evaluated, events, on_evaluated);
    } else {
      traced_at_exit.push_back(&t);  // its figures are the whole process's, known in a moment
    }
  };
  Command command{nix.nix({"eval", "--json", "--no-write-lock-file", flake_ref + "#" + where.set, "--apply", apply}), {}, "",
                  timeout};
  command.on_started = [&pid](int started) { pid = started; };
  auto result = run_process(command, {}, on_line);
  for (TargetState* t : traced_at_exit) {
    hand_over(*t, result.usage, evaluated, events, on_evaluated);
  }
  nlohmann::json all = protocol::parse_json(result.out);
  if (!result.ok() || !all.is_object()) {
    // One broken configuration fails the shared evaluation: find out which, one by one.
    for (auto& [node, t] : pending) {
      evaluate_one(*t, flake_ref, where, nix, events, timeout, on_evaluated);
    }
    return;
  }
  // What was not traced, the result still has (a nix that traces otherwise streams nothing).
  for (auto& [node, t] : pending) {
    auto it = all.find(node);
    if (it == all.end()) {
      t->failed = true;
      events.emit(node, Phase::eval, Status::fail,
                  "the flake has no " + where.set + "." + node + "; add it or fix the node name in fleet.json");
    } else if (!read_paths(*it, *t)) {
      t->failed = true;
      events.emit(node, Phase::eval, Status::fail, "nix eval returned an unexpected value: " + it->dump());
    } else {
      hand_over(*t, result.usage, ++evaluated, events, on_evaluated);
    }
  }
}

void build_target(TargetState& target, const NixCli& nix, const std::filesystem::path& roots_dir, EventWriter& events,
                  std::chrono::seconds timeout) {
  const auto& node = target.target.node;
  events.emit(node, Phase::build, Status::start, target.drv_path);
  std::string errors;
  // A build log may be gigabytes; only its end is kept, as it streams past.
  constexpr std::size_t k_log_tail_bytes = 4000;
  std::string tail;
  auto keep_tail = [&](std::string_view line) {
    tail.append(line.substr(line.size() - std::min(line.size(), k_log_tail_bytes))).push_back('\n');
    if (tail.size() > 2 * k_log_tail_bytes) {
      tail.erase(0, tail.size() - k_log_tail_bytes);
    }
  };
  // This build's every line is the target's: its own derivation's and those of the
  // dependencies it needs (another target's build of a shared one holds nix's lock on it).
  auto on_line = [&](std::string_view line) {
    events.emit(node, Phase::build, Status::progress, line);
    if (line.find("error") != std::string_view::npos || line.find("failed") != std::string_view::npos) {
      errors += std::string(line.substr(0, k_log_tail_bytes)) + "\n";
      if (errors.size() > 2 * k_log_tail_bytes) {
        errors.erase(0, errors.size() - k_log_tail_bytes);
      }
    }
  };
  try {
    // Rooted from the moment it exists until it gets its own root below; stdout only lists the
    // outputs, which are checked anyway.
    std::filesystem::create_directories(roots_dir);
    auto build_root = new_build_root(roots_dir);
    auto result = run_process({nix.legacy("nix-store", {"--realise", target.drv_path, "--add-root", build_root.string(), "--indirect"}),
                               {},
                               "",
                               timeout},
                              {}, on_line);
    auto check = run_process({nix.legacy("nix-store", {"--check-validity", target.out_path}), {}, "", std::chrono::seconds{60}});
    if (!check.ok()) {
      target.failed = true;
      auto log = run_process({nix.legacy("nix-store", {"--read-log", target.drv_path}), {}, "", std::chrono::seconds{60}},
                             keep_tail);
      std::string why = errors;
      if (log.ok() && !tail.empty()) {
        why += "last log lines:\n" + tail.substr(tail.size() - std::min(tail.size(), k_log_tail_bytes));
      }
      if (why.empty()) {
        why = result.timed_out ? "the build timed out\n" : result.err_tail;
      }
      remove_build_roots(build_root);
      events.emit(node, Phase::build, Status::fail, "building " + target.drv_path + " failed:\n" + why);
      return;
    }
    // Outputs are unrooted until copied; a concurrent garbage collection must not take them.
    auto root = (roots_dir / node).string();
    auto rooted = add_gc_root(nix, target.out_path, root);
    remove_build_roots(build_root);
    if (!rooted.ok()) {
      events.emit(node, Phase::build, Status::progress, "could not add GC root " + root + ": " + rooted.err_tail);
    }
    events.emit(node, Phase::build, Status::ok, target.out_path, {{"storePath", target.out_path}});
  } catch (const std::exception& e) {
    target.failed = true;
    events.emit(node, Phase::build, Status::fail, "building " + target.drv_path + " failed: " + e.what());
  }
}

}  // namespace fleet::builder
