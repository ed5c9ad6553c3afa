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
case $action in
  switch | test)
    ln -sfn "$toplevel" /run/current-system
    if [ -n "@cut@" ]; then
      echo "switch-to-configuration: $toplevel takes the network down (cutNetwork = true)" >&2
      ip link set eth0 down
    else
      ip link set eth0 up
    fi
    ;;
esac
