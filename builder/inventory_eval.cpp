// SPDX-License-Identifier: MIT
#include "builder/inventory_eval.hpp"

#include "builder/source_store.hpp"
#include "uploader/base/error.hpp"
#include "uploader/base/process.hpp"
#include "uploader/protocol/json_document.hpp"

#include <nlohmann/json.hpp>

#include <tuple>
#include <utility>

#include <sys/resource.h>

namespace fleet::builder {
namespace {

// The data limit is set on this process, which only waits for nix, and inherited by nix.
void limit_data(std::optional<std::uint64_t> memory_limit_mb) {
  if (!memory_limit_mb) {
    return;
  }
  rlim_t bytes = static_cast<rlim_t>(*memory_limit_mb) << 20;
  struct rlimit limit{bytes, bytes};
  if (::setrlimit(RLIMIT_DATA, &limit) != 0) {
    throw NodeError("cannot bound the inventory evaluation's memory to " + std::to_string(*memory_limit_mb) + " MiB");
  }
}

}  // namespace

std::string inventory_apply(protocol::InventoryKind kind) {
  if (kind == protocol::InventoryKind::fleet) {
    return "nodes: nodes";
  }
  // NixOS throws for an option that is read but not defined (hostPlatform, when only
  // nixpkgs.system is set), which `or` does not catch: tryEval does.
  return "hive: builtins.mapAttrs (name: deployment: {"
         " deployment = deployment // { keys = builtins.attrNames (deployment.keys or { }); };"
         " system = let"
         "   config = hive.nodes.${name}.config;"
         "   try = value: let result = builtins.tryEval value; in if result.success then result.value else null;"
         "   platform = try (config.nixpkgs.hostPlatform or null);"
         "   fromPlatform = if builtins.isAttrs platform then try (platform.system or null) else platform;"
         " in if fromPlatform != null then fromPlatform else try (config.nixpkgs.system or null);"
         " }) hive.deploymentConfig";
}

namespace {

// One bounded `nix eval --json <flake>#<attribute> --apply <apply>`.
struct InventoryEval {
  const NixCli& nix;
  std::string attribute;
  int timeout_seconds;

  ProcessResult operator()(const std::string& apply) const {
    auto argv = nix.nix({"eval", "--json", "--no-write-lock-file", attribute, "--apply", apply});
    return run_process({argv, {}, "", std::chrono::seconds{timeout_seconds}});
  }
};

// Without --show-trace nix names the option at fault but not the node. The module system's errors
// are throws, which tryEval catches: so ask which nodes fail, then evaluate the first of them
// alone for its own message. Returns the path and message, or nothing when that does not work out.
std::optional<std::pair<std::string, std::string>> failing_node(const InventoryEval& eval, protocol::InventoryKind kind) {
  const std::string nodes = "(" + inventory_apply(kind) + ")";
  auto names = eval("x: let nodes = " + nodes +
                    " x; in builtins.filter (name: !(builtins.tryEval (builtins.deepSeq nodes.${name} true)).success)"
                    " (builtins.attrNames nodes)");
  auto failing = protocol::parse_json(names.out);
  if (!names.ok() || !failing.is_array() || failing.empty() || !failing[0].is_string()) {
    return std::nullopt;
  }
  const std::string first = failing[0].get<std::string>();
  auto alone = eval("x: (" + nodes + " x).${" + nix_string_literal(first) + "}");
  if (alone.ok()) {
    return std::nullopt;
  }
  std::string message = alone.err_tail;
  if (failing.size() > 1) {
    message += "(" + std::to_string(failing.size() - 1) + " more node" + (failing.size() > 2 ? "s" : "") +
               " of the inventory fail too)\n";
  }
  return std::make_pair(protocol::inventory_nodes_path(kind) + "." + first, message);
}

}  // namespace

void run_inventory(const std::string& hash, const std::string& flake, protocol::InventoryKind kind, const NixCli& nix,
                   int timeout_seconds, std::optional<std::uint64_t> memory_limit_mb, const AgentPaths& paths,
                   std::ostream& out) {
  const HeldTree source = SourceStore(paths.state_dir).ensure_tree(hash);
  const auto flake_dir = source.flake_dir(flake);
  const InventoryEval eval{nix, "path:" + flake_dir.string() + "#" + protocol::inventory_attribute(kind), timeout_seconds};
  limit_data(memory_limit_mb);
  auto result = eval(inventory_apply(kind));
  auto value = protocol::parse_json(result.out);
  if (result.ok() && !value.is_discarded()) {
    out << nlohmann::json{{"inventory", value}}.dump() << '\n' << std::flush;
    return;
  }
  std::string where = protocol::inventory_attribute(kind);
  std::string why = "failed";
  std::string message = result.err_tail;
  if (result.timed_out) {
    why = "timed out after " + std::to_string(timeout_seconds) + " s (fleet.json timeouts.inventory)";
  } else if (result.signal != 0 || result.err_tail.find("out of memory") != std::string::npos) {
    why = "ran out of memory (it may use " +
          (memory_limit_mb ? std::to_string(*memory_limit_mb) + " MiB, the build node's MemAvailable)" : "all memory)");
  } else if (auto node = failing_node(eval, kind)) {
    std::tie(where, message) = *node;
  } else if (message.find("does not provide attribute") != std::string::npos) {
    message += kind == protocol::InventoryKind::colmena
                   ? "fleet reads the hive as colmena.lib.makeHive makes it; for a flake with only the raw `colmena` "
                     "output, add `colmenaHive = colmena.lib.makeHive self.colmena;`\n"
                   : "add `fleet.nodes = fleet.lib.inventory self.nixosConfigurations;` to the flake's outputs\n";
  }
  // The flake's fault, not this node's: another build node would fail the same way.
  throw ConfigError("evaluating " + where + " of the flake '" + flake + "' " + why + ":\n" + message);
}

}  // namespace fleet::builder
