#!/bin/sh
# SPDX-License-Identifier: MIT
# Lab stand-in for NixOS's switch-to-configuration: records the activation on the host it runs on.
set -eu
PATH=/usr/bin:/bin
toplevel=@out@
action=${1:-}
case $action in
  switch | boot | test | dry-activate) ;;
  *)
    echo "usage: $0 switch|boot|test|dry-activate" >&2
    exit 1
    ;;
esac
if [ -n "@fail@" ]; then
  echo "switch-to-configuration: activating $toplevel fails on purpose (failActivation = true)" >&2
  exit 1
fi
if [ "@delay@" != 0 ]; then
  echo "switch-to-configuration: waiting @delay@ s first (slowActivation / hangActivation)" >&2
  sleep "@delay@"
fi
mkdir -p /var/lib/lab
echo "$(date +%s) $action $toplevel" >>/var/lib/lab/activations
# The lab's link to the bridge: host0 on a systemd host, eth0 on a light one.
link=eth0
if [ -e /sys/class/net/host0 ]; then link=host0; fi
case $action in
  switch | test)
    ln -sfn "$toplevel" /run/current-system
    if [ -n "@cut@" ]; then
      echo "switch-to-configuration: $toplevel takes the network down (cutNetwork = true)" >&2
      ip link set "$link" down
    else
      ip link set "$link" up
    fi
    # Under a real systemd, the configuration's service is (re)started as NixOS would.
    if [ -d /run/systemd/system ]; then
      cp "$toplevel/etc/lab-app.service" /run/systemd/system/lab-app.service
      systemctl daemon-reload
      systemctl reset-failed lab-app.service 2>/dev/null || true
      systemctl restart lab-app.service || echo "switch-to-configuration: lab-app.service failed to start" >&2
    fi
    ;;
esac
