# SPDX-License-Identifier: MIT
# fleet and fleet-builder, built with CMake; the unit tests run as the check phase.
{ lib, stdenv, cmake, pkg-config, libssh, libarchive, zstd, nlohmann_json, boost, libsodium, openssl, cli11, catch2, sudo }:

stdenv.mkDerivation {
  pname = "fleet";
  version = "0.1.0";
  src = lib.cleanSource ../.;

  nativeBuildInputs = [ cmake pkg-config ];
  # catch2 (v2) is found at configure time, since the unit tests are part of the build.
  buildInputs = [ libssh libarchive zstd nlohmann_json boost libsodium openssl cli11 catch2 ];

  cmakeFlags = [ "-DFLEET_WERROR=ON" ];
  doCheck = true;
  # The sudoers test checks fleet-builder's output with visudo.
  nativeCheckInputs = [ sudo ];
  # Lab suites need root and network namespaces; the sandbox has neither. The module test needs
  # nix-instantiate and nixpkgs' lib, which the sandbox lacks too; scripts/test runs it.
  checkPhase = ''
    runHook preCheck
    ctest -E '^(lab|nix)\.' --output-on-failure
    runHook postCheck
  '';

  installPhase = ''
    runHook preInstall
    install -Dm755 coordinator/fleet $out/bin/fleet
    install -Dm755 builder/fleet-builder $out/bin/fleet-builder
    runHook postInstall
  '';

  meta = {
    description = "Deploy NixOS fleets through build nodes from a laptop without Nix";
    license = lib.licenses.mit;
    platforms = lib.platforms.linux;
    mainProgram = "fleet";
  };
}
