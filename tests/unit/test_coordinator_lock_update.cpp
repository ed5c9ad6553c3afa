// SPDX-License-Identifier: MIT
// --update-inputs takes one build node's flake.lock for the whole fleet: it may move revisions,
// never redirect an input.
#include "coordinator/run/lock_update.hpp"
#include "uploader/base/error.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

using namespace fleet;
using namespace fleet::coordinator;
using nlohmann::json;
using Catch::Contains;

namespace {

json github(const std::string& owner, const std::string& rev, const std::string& hash) {
  return {{"locked", {{"type", "github"}, {"owner", owner}, {"repo", "nixpkgs"}, {"rev", rev}, {"narHash", hash},
                      {"lastModified", 1700000000}}},
          {"original", {{"type", "github"}, {"owner", owner}, {"repo", "nixpkgs"}, {"ref", "nixos-24.05"}}}};
}

json lock_with(json nodes, json root_inputs) {
  nodes["root"] = {{"inputs", root_inputs}};
  return {{"nodes", nodes}, {"root", "root"}, {"version", 7}};
}

const json k_old = lock_with({{"nixpkgs", github("NixOS", "aaaaaaaaaaaa1111", "sha256-old")},
                              {"extra", {{"locked", {{"type", "path"}, {"path", "/src/extra"}, {"narHash", "sha256-e"}}},
                                         {"original", {{"type", "path"}, {"path", "/src/extra"}}}}}},
                             {{"nixpkgs", "nixpkgs"}, {"extra", "extra"}, {"lib", json::array({"nixpkgs"})}});

const std::string k_flake_nix = R"(
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.05";
  inputs.extra = { url = "path:/src/extra"; flake = false; };
  inputs.home.url = "github:nix-community/nixpkgs";
)";

std::vector<std::string> check(const json& old_lock, const json& new_lock) {
  return check_lock_update(old_lock.dump(), new_lock.dump(), k_flake_nix);
}

}  // namespace

TEST_CASE("an update that moves revisions is accepted and says what moved") {
  json updated = k_old;
  updated["nodes"]["nixpkgs"] = github("NixOS", "bbbbbbbbbbbb2222", "sha256-new");
  updated["nodes"]["nixpkgs"]["locked"]["lastModified"] = 1710000000;
  CHECK(check(k_old, updated) == std::vector<std::string>{"nixpkgs: github:NixOS/nixpkgs aaaaaaaaaaaa → bbbbbbbbbbbb"});
  CHECK(check(k_old, k_old).empty());

  // An input the flake gained is new, and so is every input of a flake that had no lock.
  updated["nodes"]["home"] = github("nix-community", "cccccccccccc3333", "sha256-h");
  updated["nodes"]["root"]["inputs"]["home"] = "home";
  CHECK(check(k_old, updated).front() == "home: new, github:nix-community/nixpkgs cccccccccccc");
  CHECK(check_lock_update("", k_old.dump(), k_flake_nix) ==
        std::vector<std::string>{"extra: new, path:/src/extra sha256-e", "nixpkgs: new, github:NixOS/nixpkgs aaaaaaaaaaaa"});

  // flake.nix moved nixpkgs to another branch: the new reference is followed.
  json branch = k_old;
  branch["nodes"]["nixpkgs"] = github("NixOS", "eeeeeeeeeeee5555", "sha256-b");
  branch["nodes"]["nixpkgs"]["original"]["ref"] = "nixos-24.11";
  CHECK(check(k_old, branch) == std::vector<std::string>{"nixpkgs: github:NixOS/nixpkgs eeeeeeeeeeee, as flake.nix now says"});
  // Written as attributes in flake.nix: named all the same.
  CHECK(check_lock_update(k_old.dump(), branch.dump(),
                          R"(inputs.nixpkgs = { type = "github"; owner = "NixOS"; repo = "nixpkgs"; ref = "nixos-24.11"; };)")
            .size() == 1);
}

TEST_CASE("an update that redirects an input is refused, naming the input and the field") {
  auto refused = [](json updated) {
    try {
      check(k_old, updated);
    } catch (const ProtocolError& e) {
      return std::string(e.what());
    }
    FAIL("accepted");
    return std::string();
  };
  json evil_owner = k_old;
  evil_owner["nodes"]["nixpkgs"]["locked"]["owner"] = "evil";
  CHECK_THAT(refused(evil_owner), Contains("changes locked.owner of the input 'nixpkgs' from \"NixOS\" to \"evil\""));

  json evil_original = k_old;
  evil_original["nodes"]["nixpkgs"] = github("evil", "aaaaaaaaaaaa1111", "sha256-old");
  CHECK_THAT(refused(evil_original), Contains("takes the input 'nixpkgs' from") && Contains("which flake.nix does not name"));

  json unnamed = k_old;
  unnamed["nodes"]["mine"] = github("evil", "ffff", "sha256-f");
  unnamed["nodes"]["root"]["inputs"]["mine"] = "mine";
  CHECK_THAT(refused(unnamed), Contains("takes the input 'mine' from") && Contains("which flake.nix does not name"));

  json mislocked = k_old;
  mislocked["nodes"]["nixpkgs"]["original"]["ref"] = "nixos-24.11";
  mislocked["nodes"]["nixpkgs"]["locked"]["owner"] = "evil";
  CHECK_THAT(refused(mislocked), Contains("locks the input 'nixpkgs' to locked.owner \"evil\" although flake.nix asks for \"NixOS\""));

  json rewired = k_old;
  rewired["nodes"]["evil"] = github("evil", "dddd", "sha256-d");
  rewired["nodes"]["evil"]["original"] = k_old["nodes"]["nixpkgs"]["original"];
  rewired["nodes"]["root"]["inputs"]["nixpkgs"] = "evil";
  CHECK_THAT(refused(rewired), Contains("changes locked.owner of the input 'nixpkgs'"));

  json new_field = k_old;
  new_field["nodes"]["extra"]["locked"]["url"] = "https://evil.example/x.tar.gz";
  CHECK_THAT(refused(new_field), Contains("locked.url of the input 'extra'"));

  json dropped = k_old;
  dropped["nodes"]["root"]["inputs"].erase("extra");
  CHECK_THAT(refused(dropped), Contains("drops the input 'extra'"));

  json follows = k_old;
  follows["nodes"]["root"]["inputs"]["lib"] = json::array({"extra"});
  CHECK_THAT(refused(follows), Contains("makes the input 'lib' follow [\"extra\"]"));

  json dangling = k_old;
  dangling["nodes"]["root"]["inputs"]["nixpkgs"] = "nowhere";
  CHECK_THAT(refused(dangling), Contains("points to the missing node 'nowhere'"));

  CHECK_THAT(refused(json::array()), Contains("the updated flake.lock is not a flake.lock"));
  CHECK_THROWS_WITH(check_lock_update(k_old.dump(), "{not json", k_flake_nix), Contains("is not a flake.lock"));
}
