// SPDX-License-Identifier: MIT
#include "builder/secrets/generation_secrets.hpp"
#include "support/temp_dir.hpp"
#include "uploader/base/error.hpp"
#include "uploader/base/file_io.hpp"
#include "uploader/protocol/job.hpp"

#include <catch2/catch.hpp>

using namespace fleet;
using namespace fleet::builder::secrets;

namespace {

SecretPayload secret(const std::string& name, const std::string& dest) {
  return {{name, "secrets/" + name + ".age", dest, "root", "root", "0400", "pre-activation", true}, "ciphertext-" + name};
}

}  // namespace

TEST_CASE("a rollback removes the secret files only the new generation had") {
  SecretBundle old_bundle{"t1", {secret("db", "/run/keys/db"), secret("api", "/run/keys/api")}};
  SecretBundle new_bundle{"t1", {secret("db", "/run/keys/db"), secret("tls", "/run/keys/tls"), secret("tls2", "/run/keys/tls")}};
  CHECK(dests_only_in(new_bundle, old_bundle) == std::vector<std::string>{"/run/keys/tls"});
  CHECK(dests_only_in(old_bundle, new_bundle) == std::vector<std::string>{"/run/keys/api"});
  CHECK(dests_only_in(old_bundle, old_bundle).empty());
}

TEST_CASE("each generation's bundle is kept under its toplevel's name") {
  fleet::test::TempDir dir;
  GenerationSecrets kept({dir.path() / "key", dir.path() / "secrets"});
  SecretBundle bundle{"t1", {secret("db", "/run/keys/db")}};
  CHECK_FALSE(kept.kept("/nix/store/aaa-nixos-system-t1"));
  kept.keep("/nix/store/aaa-nixos-system-t1", bundle);
  CHECK(kept.file_for("/nix/store/aaa-nixos-system-t1") == dir.path() / "secrets/systems/aaa-nixos-system-t1.json");
  CHECK(kept.kept("/nix/store/aaa-nixos-system-t1") == bundle);
  CHECK_FALSE(kept.kept("/nix/store/bbb-nixos-system-t1"));
  CHECK_FALSE(kept.kept(""));
  CHECK_THROWS_AS(kept.file_for("/"), Error);

  write_file_atomically(kept.file_for("/nix/store/ccc-nixos-system-t1"), "{\"node\": 1}");
  CHECK_THROWS_WITH(kept.kept("/nix/store/ccc-nixos-system-t1"), Catch::Contains("damaged"));
}

TEST_CASE("without a kept bundle for the previous generation, a rollback leaves the secrets alone") {
  fleet::test::TempDir dir;
  GenerationSecrets kept({dir.path() / "key", dir.path() / "secrets"});
  auto installed = dir.path() / "keys" / "db";
  write_file_atomically(installed, "plaintext");
  std::FILE* out = std::tmpfile();
  builder::EventWriter events(out);
  SecretBundle leaving{"t1", {secret("db", installed.string())}};
  CHECK(kept.return_to("/nix/store/old-nixos-system-t1", leaving, events));
  CHECK(std::filesystem::exists(installed));

  // With an empty bundle kept for it, the file only the leaving generation had goes.
  kept.keep("/nix/store/old-nixos-system-t1", {"t1", {}});
  CHECK(kept.return_to("/nix/store/old-nixos-system-t1", leaving, events));
  CHECK_FALSE(std::filesystem::exists(installed));
  std::fclose(out);
}

TEST_CASE("a job names its deployer, and a hostile one is refused") {
  protocol::BuildJob job;
  job.run_id = "run-1";
  job.source_hash = std::string(64, 'a');
  job.deployer = "alice@laptop";
  CHECK(protocol::parse_build_job(protocol::to_json(job)).deployer == "alice@laptop");
  auto json = protocol::to_json(job);
  json.erase("deployer");
  CHECK(protocol::parse_build_job(json).deployer.empty());
  for (const char* bad : {"alice laptop", "-rf@x", "a\nb"}) {
    json["deployer"] = bad;
    CHECK_THROWS_AS(protocol::parse_build_job(json), ProtocolError);
  }
}
