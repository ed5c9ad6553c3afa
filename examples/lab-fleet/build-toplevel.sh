# SPDX-License-Identifier: MIT
# Builder of a lab toplevel (run by /bin/sh -e); inputs come from the derivation's attributes.
PATH=/usr/bin:/bin
if [ -n "${slow:-}" ]; then sleep "$slow"; fi
mkdir -p "$out/bin"
ln -s "$base" "$out/base"
printf '%s\n' "$message" >"$out/message"
printf '%s\n' "$nodeName" >"$out/configuration-name"
printf '%s\n' "$version" >"$out/nixos-version"
printf '%s\n' "$system" >"$out/system"
sed -e "s|@out@|$out|g" -e "s|@fail@|$fail|g" -e "s|@cut@|$cut|g" -e "s|@delay@|$delay|g" "$switch" >"$out/bin/switch-to-configuration"
chmod 0555 "$out/bin/switch-to-configuration"
mkdir -p "$out/etc"
printf '[Unit]\nDescription=lab: the service of %s\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=%s\n' \
  "$nodeName" "$serviceCommand" >"$out/etc/lab-app.service"
printf '%s' "$units" >"$out/etc/lab-units"
if [ -n "${inhibitor:-}" ]; then printf '%s\n' "$inhibitor" >"$out/switch-inhibitors"; fi
