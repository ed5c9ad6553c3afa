# SPDX-License-Identifier: MIT
# The same lab hosts as a Colmena hive (the flake's `colmena`; `colmenaHive` is it evaluated the
# way colmena.lib.makeHive does, by the evaluator in colmena/). The hosts are configured as under
# fleet (configuration.nix, hosts/<name>.nix) on the same lab NixOS; only the deployment options
# are Colmena's. t3 and st3 build themselves, as in fleet.json.in.
{ nixpkgs, network, knobs }:
{
  meta = {
    description = "the fleet lab's hosts";
    # Colmena wants an initialised nixpkgs: the lab's stand-in (lab-nixpkgs/).
    inherit nixpkgs;
    specialArgs = { inherit network; };
  };

  defaults = { name, network, ... }: {
    imports = [ ./configuration.nix (knobs name) ];
    deployment = {
      targetHost = network.hosts.${name};
      targetPort = 22;
      targetUser = "root";
    };
  };

  t1.deployment.tags = [ "low" "demo" ];
  t2 = { nodes, lib, ... }: {
    deployment.tags = [ "low" "demo" ] ++ lib.optional nodes.t1.config.services.web.enable "web-peer";
  };
  t3.deployment = { tags = [ "demo" ]; buildOnTarget = true; allowLocalDeployment = true; };
  t4.deployment.tags = [ "demo" ];
  # Uploaded by Colmena out of band, never into the store; its modules add the units
  # lab-demo-key.service and lab-demo-key.path to t5's toplevel.
  t5.deployment.keys.lab-demo.text = "not a secret: the lab's demo key\n";
  st1 = { };
  st2 = { };
  st3.deployment = { buildOnTarget = true; allowLocalDeployment = true; };
}
