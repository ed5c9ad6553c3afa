# SPDX-License-Identifier: MIT
# lib.inventory: `nixosConfigurations` (or any attrset of evaluated configurations that import
# nixosModules.deployment) → the plain data of the flake output `fleet.nodes.<name>`, with
# fleet.json's node keys. Only set values are written, so the output holds no functions, paths or
# derivations and can be evaluated to JSON on a build node whichever module system made the
# configurations.
# It needs nothing but builtins.
configurations:
let
  setOnly = attrs: removeAttrs attrs (builtins.filter
    (key: builtins.elem attrs.${key} [ null [ ] { } ]) (builtins.attrNames attrs));
  # NixOS throws for an option read but not defined (hostPlatform when only nixpkgs.system is
  # set), which `or` does not catch.
  try = value: let result = builtins.tryEval value; in if result.success then result.value else null;
  platformOf = config:
    let
      platform = try (config.nixpkgs.hostPlatform or null);
      fromPlatform = if builtins.isAttrs platform then try (platform.system or null) else platform;
    in
    if fromPlatform != null then fromPlatform else try (config.nixpkgs.system or null);
  node = name: configuration:
    let
      config = configuration.config;
      declared = config.deployment.fleet or (throw
        "fleet.lib.inventory: nixosConfigurations.${name} does not import fleet's nixosModules.deployment");
      system = if declared.system != null then declared.system else platformOf config;
    in
    setOnly (declared // {
      inherit system;
      secrets = builtins.mapAttrs (_: setOnly) declared.secrets;
    });
in
builtins.mapAttrs node configurations
