# SPDX-License-Identifier: MIT
# Each lab host's fleet deployment options (deployment.fleet.*, from fleet-nix/deployment-module.nix),
# set in its own module tree: the address and pinned host key from the lab's address book, and
# what fleet.json.in says of t1..t4, one tag computed from another host's configuration.
{ name, nodes, network, lib, ... }:
{
  deployment.fleet = {
    host = network.hosts.${name};
    hostKey = network.hostKeys.${name};
    user = "root";
  } // ({
    t1 = { tags = [ "low" "demo" ]; build = "auto"; lowPower = true; };
    # t2 sits in front of t1's web service when t1 runs one.
    t2 = {
      tags = [ "low" "demo" ] ++ lib.optional nodes.t1.config.services.web.enable "web-peer";
      build = "auto";
      lowPower = true;
    };
    t3 = { tags = [ "demo" ]; build = "self"; };
    t4 = { tags = [ "demo" ]; build = "b2"; };
  }.${name} or { });
}
